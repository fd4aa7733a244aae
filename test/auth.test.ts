import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecret, hashSecret, parseSecret } from "../src/auth/secrets.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

describe("secrets (API keys, invitation tokens)", () => {
  it("carry their kind, 190 random bits and a checksum; only the hash is stored", () => {
    const { secret, hash, prefix } = generateSecret("ogt");
    expect(secret).toMatch(/^ogt_[0-9A-Za-z]{38}$/);
    expect(prefix).toBe(secret.slice(0, 12));
    expect(hash).toBe(hashSecret(secret));
    expect(hash).not.toContain(secret.slice(4));
    expect(parseSecret(secret)).toBe("ogt");
  });

  it("a single changed character fails the checksum offline", () => {
    const { secret } = generateSecret("ogp");
    const last = secret.at(-8)!;
    const tampered = secret.slice(0, -8) + (last === "a" ? "b" : "a") + secret.slice(-7);
    expect(parseSecret(tampered)).toBeUndefined();
  });

  it("never repeats", () => {
    const secrets = new Set(Array.from({ length: 1000 }, () => generateSecret("ogp").secret));
    expect(secrets.size).toBe(1000);
  });
});

describe("authentication over HTTP", () => {
  let app: TestApp;
  let org: SeededOrg;
  let privateKey: CryptoKey;
  const issuer = "https://idp.example.test/";
  const audience = "orgraph";

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey as CryptoKey;
    app = await startTestApp({
      env: { JWT_ISSUER: issuer, JWT_AUDIENCE: audience, JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey) },
    });
    org = await app.seed.org();
  });
  afterAll(() => app?.close());

  const token = (claims: Record<string, unknown>, options: { audience?: string; issuer?: string; expiresIn?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("idp-user-1")
      .setIssuer(options.issuer ?? issuer)
      .setAudience(options.audience ?? audience)
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? "5m")
      .sign(privateKey);

  const viewerEmail = `{ viewer { principal { kind } user { email } organizations { id } } }`;

  it("a valid OIDC token provisions its user on first use (JIT) and names them on the next", async () => {
    const jwt = await token({ email: "New.Person@Example.test", email_verified: true });
    const first = await app.ok(jwt, viewerEmail);
    expect(first.viewer).toEqual({ principal: { kind: "USER" }, user: { email: "new.person@example.test" }, organizations: [] });
    const users = await app.orgraph.deps.db.selectFrom("users").select("id").where("email", "=", "new.person@example.test").execute();
    expect(users).toHaveLength(1);
    await app.ok(jwt, viewerEmail);
    expect(await app.orgraph.deps.db.selectFrom("users").select("id").where("email", "=", "new.person@example.test").execute()).toHaveLength(1);
  });

  it("a token for an existing member acts as that member", async () => {
    const jwt = await token({ email: org.admin.email });
    expect((await app.ok(jwt, viewerEmail)).viewer.organizations).toEqual([{ id: org.orgId }]);
  });

  it.each([
    ["the wrong audience", () => token({ email: "a@example.test" }, { audience: "someone-else" })],
    ["the wrong issuer", () => token({ email: "a@example.test" }, { issuer: "https://evil.example.test/" })],
    ["an expired token", () => token({ email: "a@example.test" }, { expiresIn: "-1m" })],
    ["an unverified email", () => token({ email: "a@example.test", email_verified: false })],
    ["no email", () => token({})],
    ["a token signed by another key", async () => {
      const other = await generateKeyPair("RS256");
      return new SignJWT({ email: "a@example.test" }).setProtectedHeader({ alg: "RS256" }).setSubject("x").setIssuer(issuer).setAudience(audience).setExpirationTime("5m").sign(other.privateKey);
    }],
  ])("refuses %s with UNAUTHENTICATED and status 401", async (_label, make) => {
    const response = await app.fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await make()}` },
      body: JSON.stringify({ query: viewerEmail }),
    });
    expect(response.status).toBe(401);
    expect(codes(await response.json())).toEqual(["UNAUTHENTICATED"]);
  });

  it.each([
    ["no credentials", undefined],
    ["a malformed header", "Basic abc"],
    ["a key with a bad checksum", "ogp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ["a well-formed key that does not exist", () => generateSecret("ogp").secret],
  ])("refuses %s with UNAUTHENTICATED", async (_label, credential) => {
    const value = typeof credential === "function" ? credential() : credential;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (value) headers.authorization = value.startsWith("Basic") ? value : `Bearer ${value}`;
    const response = await app.fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query: viewerEmail }) });
    expect(codes(await response.json())).toEqual(["UNAUTHENTICATED"]);
  });

  it("a revoked or expired personal key is refused on the very next request", async () => {
    const member = await app.seed.member(org, "MEMBER", [], "revoked");
    await app.ok(member.key, viewerEmail);
    await app.ok(member.key, viewerEmail); // now known to the key cache too
    const db = app.orgraph.deps.db;
    const { id } = await db.selectFrom("api_keys").select("id").where("user_id", "=", member.userId).executeTakeFirstOrThrow();
    await app.ok(member.key, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id });
    expect(codes(await app.gql(member.key, viewerEmail))).toEqual(["UNAUTHENTICATED"]);

    // Expiry is checked on every use (keys.test.ts lets a cached key expire in real time).
    const other = await app.seed.member(org, "MEMBER", [], "expired");
    await db.updateTable("api_keys").set({ expires_at: new Date(Date.now() - 1000) }).where("user_id", "=", other.userId).execute();
    expect(codes(await app.gql(other.key, viewerEmail))).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("OIDC tokens verified against a JWKS URL", () => {
  it("fetches the issuer's keys from JWKS_URL and accepts a token signed by them", async () => {
    const { createServer } = await import("node:http");
    const { exportJWK } = await import("jose");
    const pair = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const jwks = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    const port = (jwks.address() as { port: number }).port;
    const app = await startTestApp({
      env: { JWT_ISSUER: "https://idp.test/", JWT_AUDIENCE: "orgraph", JWT_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` },
    });
    try {
      const jwt = await new SignJWT({ email: "jwks@example.test" })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setSubject("s")
        .setIssuer("https://idp.test/")
        .setAudience("orgraph")
        .setExpirationTime("5m")
        .sign(pair.privateKey);
      expect((await app.ok(jwt, `{ viewer { user { email } } }`)).viewer.user.email).toBe("jwks@example.test");
    } finally {
      await app.close();
      jwks.close();
    }
  });
});
