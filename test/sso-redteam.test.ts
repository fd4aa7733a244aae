import { createServer, type Server } from "node:http";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Red-team findings on SSO per organization (issue 16 §1), each an attack that succeeded before
 * its fix. Real tokens (jose), a real JWKS server over HTTP, real SpiceDB and Postgres/PGlite.
 */
const PLATFORM_ISSUER = "https://platform-idp.test/";
const AUDIENCE = "orgraph";
const A_ISSUER = "https://idp.org-a.test/";

let app: TestApp;
let jwks: Server;
let dead: Server;
let jwksUrl: string;
let deadUrl: string;
let platformKey: CryptoKey;
let platformPem: string;
let aKey: CryptoKey;
let a: SeededOrg;
let aTeam: string;
let victim: SeededMember;

const now = () => Math.floor(Date.now() / 1000);
const sign = (key: CryptoKey, alg: string, claims: Record<string, unknown>, o: { iss: string; aud?: string | string[]; sub: string; iat?: number | null }) => {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg, kid: "k1" }).setIssuer(o.iss).setAudience(o.aud ?? AUDIENCE).setSubject(o.sub).setExpirationTime("5m");
  if (o.iat !== null) jwt.setIssuedAt(o.iat ?? now());
  return jwt.sign(key);
};
const aToken = (sub: string, groups: string[], o: { iat?: number | null; aud?: string | string[]; extra?: Record<string, unknown> } = {}) =>
  sign(aKey, "ES256", { email: `${sub}@a.test`, email_verified: true, groups, ...o.extra }, { iss: A_ISSUER, sub, aud: o.aud, iat: o.iat });
const platformToken = (sub: string, email: string, aud: string | string[] = AUDIENCE) =>
  sign(platformKey, "RS256", { email, email_verified: true }, { iss: PLATFORM_ISSUER, sub, aud });

const viewer = `{ viewer { user { id email } organizations { id } } }`;
const connect = `mutation($o: ID!, $i: String!, $a: String!, $j: String, $p: String) {
  setSsoConnection(organizationId: $o, issuer: $i, audience: $a, jwksUrl: $j, publicKeyPem: $p) { id } }`;
const mapGroup = `mutation($o: ID!, $g: String!, $r: OrgRole, $t: [TeamRoleInput!]) {
  setSsoGroupMapping(organizationId: $o, group: $g, orgRole: $r, teams: $t) { group } }`;
const orgRoleOf = async (orgId: string, userId: string) =>
  (await app.orgraph.deps.db.selectFrom("org_memberships").select(["role", "sso_managed"]).where("org_id", "=", orgId).where("user_id", "=", userId).executeTakeFirst()) ?? null;
const signIn = async (token: string) => (await app.ok(token, viewer)).viewer as { user: { id: string; email: string }; organizations: { id: string }[] };
const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;
};

beforeAll(async () => {
  const platform = await generateKeyPair("RS256", { extractable: true });
  platformKey = platform.privateKey;
  platformPem = await exportSPKI(platform.publicKey);
  const idp = await generateKeyPair("ES256");
  aKey = idp.privateKey;
  const jwk = { ...(await exportJWK(idp.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  jwks = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  dead = createServer((_req, res) => {
    res.statusCode = 500;
    res.end("down");
  });
  jwksUrl = await listen(jwks);
  deadUrl = await listen(dead);
  app = await startTestApp({
    env: { JWT_ISSUER: PLATFORM_ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_PUBLIC_KEY: platformPem, SSO_JWKS_ALLOW_HTTP: "true", RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" },
  });
  a = await app.seed.org("A");
  aTeam = await app.seed.team(a, "Serving");
  const v = await app.seed.org("V");
  victim = await app.seed.member(v, "ADMIN", null, "victim");
  await app.ok(a.admin.key, connect, { o: a.orgId, i: A_ISSUER, a: AUDIENCE, j: jwksUrl });
  await app.ok(a.admin.key, mapGroup, { o: a.orgId, g: "eng", t: [{ teamId: aTeam, role: "MEMBER" }] });
  await app.ok(a.admin.key, mapGroup, { o: a.orgId, g: "leads", r: "ADMIN" });
});
afterAll(async () => {
  await app?.close();
  jwks?.close();
  dead?.close();
});

describe("1. the platform's issuer belongs to the platform", () => {
  it("ATTACK: an org connecting (platform issuer, a second audience, the platform's key) does not capture platform sign-ins", async () => {
    const b = await app.seed.org("Capture");
    const attempt = await app.gql(b.admin.key, connect, { o: b.orgId, i: PLATFORM_ISSUER, a: "account", p: platformPem });
    await app.ok(b.admin.key, mapGroup, { o: b.orgId, g: "x" });
    // A real platform token carrying a second audience (Keycloak "account").
    const signedIn = await signIn(await platformToken("victim-platform", victim.email, [AUDIENCE, "account"]));
    expect(signedIn.user.id).toBe(victim.userId);
    expect(codes(attempt)).toEqual(["CONFLICT"]);
    expect(attempt.errors![0]!.message).toMatch(/platform's own identity provider/);
  });

  it("ATTACK: an org pointing the platform's issuer at a dead JWKS does not make platform tokens 503", async () => {
    const b = await app.seed.org("Outage");
    const attempt = await app.gql(b.admin.key, connect, { o: b.orgId, i: PLATFORM_ISSUER, a: "account", j: deadUrl });
    const result = await app.gql(await platformToken("victim-platform", victim.email, [AUDIENCE, "account"]), viewer);
    expect(result.errors).toBeUndefined();
    expect((result.data as { viewer: { user: { id: string } } }).viewer.user.id).toBe(victim.userId);
    expect(codes(attempt)).toEqual(["CONFLICT"]);
  });

  it("the platform's issuer is refused whatever its case or trailing slash; other issuers are unique compared the same way", async () => {
    const b = await app.seed.org("Variants");
    for (const issuer of ["https://platform-idp.test", "HTTPS://PLATFORM-IDP.TEST/", "https://Platform-IdP.test//"]) {
      expect(codes(await app.gql(b.admin.key, connect, { o: b.orgId, i: issuer, a: "anything", j: jwksUrl }))).toEqual(["CONFLICT"]);
    }
    const taken = await app.gql(b.admin.key, connect, { o: b.orgId, i: "HTTPS://IDP.ORG-A.TEST", a: AUDIENCE, j: jwksUrl });
    expect(codes(taken)).toEqual(["CONFLICT"]);
  });

  it("a token of the platform's issuer goes to the platform's verifier even if a connection row names that issuer", async () => {
    const b = await app.seed.org("Legacy");
    // As if the row predated the platform's issuer (JWT_ISSUER changed since): the routing alone must hold.
    await app.orgraph.deps.db
      .insertInto("sso_connections")
      .values({ org_id: b.orgId, issuer: PLATFORM_ISSUER, issuer_normalized: "https://platform-idp.test", audience: "account", jwks_url: deadUrl, public_key_pem: null, groups_claim: "groups", updated_by: null })
      .execute();
    try {
      expect((await signIn(await platformToken("victim-platform", victim.email, [AUDIENCE, "account"]))).user.id).toBe(victim.userId);
      expect((await signIn(await platformToken("victim-platform", victim.email, ["account", AUDIENCE]))).user.id).toBe(victim.userId);
    } finally {
      await app.orgraph.deps.db.deleteFrom("sso_connections").where("org_id", "=", b.orgId).execute();
    }
  });
});

describe("2. an older token never undoes what a newer one did", () => {
  it("ATTACK: replaying an older token with more groups does not re-grant what a newer token took away", async () => {
    const t = now();
    const old = await aToken("rita", ["leads"], { iat: t - 120 });
    const rita = (await signIn(old)).user.id;
    expect(await orgRoleOf(a.orgId, rita)).toEqual({ role: "ADMIN", sso_managed: true });
    expect((await signIn(await aToken("rita", [], { iat: t - 60 }))).organizations).toEqual([]);
    expect(await orgRoleOf(a.orgId, rita)).toBeNull();
    // The old token still signs in (it is valid), but reconciles nothing.
    expect((await signIn(old)).organizations).toEqual([]);
    expect(await orgRoleOf(a.orgId, rita)).toBeNull();
    // Nor does a token without iat.
    expect((await signIn(await aToken("rita", ["leads"], { iat: null }))).user.id).toBe(rita);
    expect(await orgRoleOf(a.orgId, rita)).toBeNull();
    // A newer one does.
    await signIn(await aToken("rita", ["leads"], { iat: t }));
    expect(await orgRoleOf(a.orgId, rita)).toEqual({ role: "ADMIN", sso_managed: true });
  });

  it("a newer token that changes nothing still moves the mark: an older one after it reconciles nothing", async () => {
    const t = now();
    const sam = (await signIn(await aToken("sam", ["eng"], { iat: t - 120 }))).user.id;
    await signIn(await aToken("sam", ["eng"], { iat: t - 30 }));
    await signIn(await aToken("sam", [], { iat: t - 60 }));
    expect(await orgRoleOf(a.orgId, sam)).toEqual({ role: "MEMBER", sso_managed: true });
  });
});

describe("3. a second audience registered by another org does not break an org's SSO", () => {
  it("ATTACK: org C registers (A's issuer, \"account\"): A's tokens with aud [A's, account] still sign into A (azp, else the first aud)", async () => {
    const c = await app.seed.org("Squat");
    await app.ok(c.admin.key, connect, { o: c.orgId, i: A_ISSUER, a: "account", j: jwksUrl });
    await app.ok(c.admin.key, mapGroup, { o: c.orgId, g: "eng" });
    const withAzp = await aToken("uma", ["eng"], { aud: ["account", AUDIENCE], extra: { azp: AUDIENCE } });
    expect((await signIn(withAzp)).organizations).toEqual([{ id: a.orgId }]);
    const firstAud = await aToken("uma", ["eng"], { aud: [AUDIENCE, "account"] });
    expect((await signIn(firstAud)).organizations).toEqual([{ id: a.orgId }]);
    // An azp naming neither, and a first aud naming neither: ambiguous, refused as before.
    const neither = await aToken("uma", ["eng"], { aud: ["other", AUDIENCE, "account"], extra: { azp: "other" } });
    expect(codes(await app.gql(neither, viewer))).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("4. managed accounts are created only for someone the IdP grants access", () => {
  it("ATTACK: a new subject whose groups map to nothing is refused and writes no row", async () => {
    for (const [sub, groups] of [["nobody-1", []], ["nobody-2", ["unmapped"]]] as const) {
      const result = await app.gql(await aToken(sub, [...groups]), viewer);
      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
      expect(result.errors![0]!.message).toBe("Your organization's identity provider grants you no access here");
      expect(await app.orgraph.deps.db.selectFrom("users").select("id").where("sso_subject", "=", sub).execute()).toEqual([]);
    }
  });

  it("an account's creation is audited as the identity provider", async () => {
    const vera = (await signIn(await aToken("vera", ["eng"]))).user.id;
    const events = await app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("org_id", "=", a.orgId).where("target_id", "=", vera).orderBy("seq").execute();
    expect(events.map((e) => [e.action, e.actor_id, e.auth_method, e.auth_ref])).toEqual([
      ["sso.user.create", null, "sso", A_ISSUER],
      ["sso.member.join", null, "sso", A_ISSUER],
      ["sso.team_member.join", null, "sso", A_ISSUER],
    ]);
  });
});

describe("5. only the per-organization email index is 'email taken'", () => {
  it("another unique violation during provisioning is not reported as the email being taken", async () => {
    const db = app.orgraph.deps.db;
    const { sql } = await import("kysely");
    // A unique index of the test's own, so a sign-in trips a violation that is not users_managed_email.
    await sql`CREATE UNIQUE INDEX redteam_display_name ON users (display_name) WHERE display_name = 'twin'`.execute(db);
    try {
      await signIn(await sign(aKey, "ES256", { email: "twin@a.test", groups: ["eng"] }, { iss: A_ISSUER, sub: "twin-1" }));
      const warned: string[] = [];
      const original = app.orgraph.deps.logger.warn.bind(app.orgraph.deps.logger);
      app.orgraph.deps.logger.warn = ((obj: unknown, msg?: string) => {
        warned.push(String(msg ?? obj));
        return original(obj as never, msg as never);
      }) as typeof original;
      try {
        const result = await app.gql(await sign(aKey, "ES256", { email: "twin@b.test", groups: ["eng"] }, { iss: A_ISSUER, sub: "twin-2" }), viewer);
        expect(result.errors).toBeDefined();
        expect(warned.filter((m) => m.includes("has the token's email"))).toEqual([]);
      } finally {
        app.orgraph.deps.logger.warn = original;
      }
    } finally {
      await sql`DROP INDEX redteam_display_name`.execute(db);
    }
  });
});

describe("cross-feature review: the key policy binds an account SSO (re)joins to the organization", () => {
  it("ATTACK: a forever personal key minted while the managed account belonged to no organization is capped when its groups join it again", async () => {
    const t0 = now() - 30;
    const joined = await signIn(await aToken("keeper", ["eng"], { iat: t0 }));
    expect(joined.organizations.map((o) => o.id)).toEqual([a.orgId]);
    // Removed by its groups, the account belongs to no organization: no policy binds its new key.
    const outside = await aToken("keeper", [], { iat: t0 + 10 });
    expect((await signIn(outside)).organizations).toEqual([]);
    const minted = await app.ok(outside, `mutation { createApiKey(input: { name: "forever" }) { apiKey { id expiresAt } } }`);
    expect(minted.createApiKey.apiKey.expiresAt).toBeNull();
    await app.ok(a.admin.key, `mutation($o: ID!) { setKeyPolicy(organizationId: $o, maxLifetimeDays: 30, requireExpiry: false) { id } }`, { o: a.orgId });
    try {
      expect((await signIn(await aToken("keeper", ["eng"], { iat: t0 + 20 }))).organizations.map((o) => o.id)).toEqual([a.orgId]);
      const row = await app.orgraph.deps.db.selectFrom("api_keys").select("expires_at").where("id", "=", minted.createApiKey.apiKey.id).executeTakeFirstOrThrow();
      expect(row.expires_at).not.toBeNull();
      expect(new Date(row.expires_at!).getTime()).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    } finally {
      await app.ok(a.admin.key, `mutation($o: ID!) { setKeyPolicy(organizationId: $o, maxLifetimeDays: null, requireExpiry: false) { id } }`, { o: a.orgId });
    }
  });
});
