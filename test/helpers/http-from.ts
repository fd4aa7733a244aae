import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { httpListener } from "../../src/app.js";
import type { TestApp } from "./app.js";

/**
 * The test app's own listener on every address (`::`, dual-stack: IPv4 clients arrive as
 * `::ffff:127.0.0.x`), and requests to it from a chosen local source address: any of
 * 127.0.0.0/8 (all local on Linux) or `::1`. A distinct client address each, over real HTTP.
 */
export async function listenEverywhere(app: TestApp): Promise<{ server: Server; port: number }> {
  const server = createServer(httpListener(app.orgraph.app, app.orgraph.deps));
  await new Promise<void>((resolve) => server.listen(0, "::", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export function requestFrom(
  port: number,
  from: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; text: string }> {
  const v6 = from.includes(":");
  return new Promise((resolve, reject) => {
    const req = request(
      { host: v6 ? "::1" : "127.0.0.1", port, path, method: "POST", localAddress: from, family: v6 ? 6 : 4, headers: { "content-type": "application/json", ...headers } },
      (res) => {
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        // AuthZEN's errors are text: `json` is then undefined.
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: jsonOrUndefined(text), text }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** A GraphQL operation from `from` with `key`; the HTTP status and the parsed response. */
export const gqlFrom = (port: number, from: string, key: string | undefined, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  requestFrom(port, from, "/graphql", { query, variables }, { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers });

/** POST /v1/authorize from `from` with `key`. */
export const authorizeFrom = (port: number, from: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
  requestFrom(port, from, "/v1/authorize", body, { authorization: `Bearer ${key}`, ...headers });

function jsonOrUndefined(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
