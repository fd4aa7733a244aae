import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { codes, startTestApp, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

/**
 * Issue 11, hole 9: an identity provider whose keys cannot be fetched is an outage (503,
 * AUTHZ_UNAVAILABLE, logged), not a bad token (401). A real local JWKS server, real tokens.
 */
let jwks: Server;
let mode: "ok" | "500" = "500";
let app: TestApp;
let privateKey: CryptoKey;
let port: number;

const sign = (key: CryptoKey, email = "idp-user@example.test") =>
  new SignJWT({ email, email_verified: true })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setSubject("s")
    .setIssuer("https://idp.test/")
    .setAudience("orgraph")
    .setExpirationTime("5m")
    .sign(key);

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  privateKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  jwks = createServer((_req, res) => {
    if (mode === "500") {
      res.statusCode = 500;
      return res.end("the identity provider is down");
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  port = (jwks.address() as { port: number }).port;
  app = await startTestApp({ env: { JWT_ISSUER: "https://idp.test/", JWT_AUDIENCE: "orgraph", JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` } });
});
afterAll(async () => {
  await app?.close();
  jwks?.close();
});

const viewer = `{ viewer { user { email } } }`;

async function graphqlStatus(token: string) {
  const response = await app.fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: viewer }),
  });
  return { status: response.status, codes: codes((await response.json()) as never) };
}

describe("the issuer's JWKS endpoint", () => {
  it("answering 500: GraphQL is AUTHZ_UNAVAILABLE (503), /v1/authorize 503, and it is logged", async () => {
    const logged = vi.spyOn(app.orgraph.deps.logger, "error");
    const token = await sign(privateKey);
    expect(await graphqlStatus(token)).toEqual({ status: 503, codes: ["AUTHZ_UNAVAILABLE"] });
    expect((await authorize(app, token, { action: "model:invoke", model: "m", team: "team_000000000000000000000000000" })).status).toBe(503);
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ err: expect.anything() }), expect.stringContaining("JWKS"));
    logged.mockRestore();
  });

  it("answering again: the same token is accepted, and a token the keys do not verify is 401", async () => {
    mode = "ok";
    const token = await sign(privateKey);
    expect((await app.ok(token, viewer)).viewer.user.email).toBe("idp-user@example.test");
    const stranger = await generateKeyPair("ES256");
    expect(await graphqlStatus(await sign(stranger.privateKey))).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });
  });

  it("unreachable (the server stopped, before any key was cached): 503, not 401", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const other = await startTestApp({ env: { JWT_ISSUER: "https://idp.test/", JWT_AUDIENCE: "orgraph", JWT_JWKS_URL: `http://127.0.0.1:${deadPort}/jwks.json` } });
    try {
      const response = await other.fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await sign(privateKey)}` },
        body: JSON.stringify({ query: viewer }),
      });
      expect(response.status).toBe(503);
      expect(codes((await response.json()) as never)).toEqual(["AUTHZ_UNAVAILABLE"]);
    } finally {
      await other.close();
    }
  });
});
