import type { TestApp } from "./app.js";

/** POST /v1/authorize as the gateway would: over HTTP, to the server's own listener. */
export async function authorize(app: TestApp, key: string | undefined, body: unknown): Promise<{ status: number; body: any }> {
  const response = await app.http("/v1/authorize", {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}
