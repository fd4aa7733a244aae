import { createServer, type Server } from "node:http";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../src/config.js";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

/**
 * Issue 16 §1: SSO per organization. Real tokens (jose), a real JWKS server over HTTP, real
 * SpiceDB and Postgres/PGlite. The central threat: an org ADMIN controls their own IdP and can
 * mint a token for any email; such a token must never reach a platform account.
 */
const PLATFORM_ISSUER = "https://platform-idp.test/";
const AUDIENCE = "orgraph";
const A_ISSUER = "https://idp.org-a.test/";

let app: TestApp;
let jwks: Server;
let jwksUrl: string;
let platformKey: CryptoKey;
let aKey: CryptoKey;
let a: SeededOrg;
let b: SeededOrg;
let aTeam: string;
let victim: SeededMember;

const sign = (key: CryptoKey, alg: string, claims: Record<string, unknown>, o: { iss: string; aud?: string | string[]; sub: string }) =>
  new SignJWT(claims).setProtectedHeader({ alg, kid: "k1" }).setIssuer(o.iss).setAudience(o.aud ?? AUDIENCE).setSubject(o.sub).setIssuedAt().setExpirationTime("5m").sign(key);

/** A token of org A's IdP. */
const aToken = (sub: string, email: string, groups?: unknown, extra: Record<string, unknown> = {}) =>
  sign(aKey, "ES256", { email, email_verified: true, ...(groups === undefined ? {} : { groups }), ...extra }, { iss: A_ISSUER, sub });
const platformToken = (sub: string, email: string) => sign(platformKey, "RS256", { email, email_verified: true }, { iss: PLATFORM_ISSUER, sub });

const viewer = `{ viewer { user { id email } organizations { id } } }`;
const connect = `mutation($o: ID!, $i: String!, $a: String!, $j: String, $p: String, $g: String) {
  setSsoConnection(organizationId: $o, issuer: $i, audience: $a, jwksUrl: $j, publicKeyPem: $p, groupsClaim: $g) { id } }`;
const mapGroup = `mutation($o: ID!, $g: String!, $r: OrgRole, $t: [TeamRoleInput!]) {
  setSsoGroupMapping(organizationId: $o, group: $g, orgRole: $r, teams: $t) { group orgRole teams { team { id } role } } }`;
const unmapGroup = `mutation($o: ID!, $g: String!) { deleteSsoGroupMapping(organizationId: $o, group: $g) }`;
const orgRoleOf = async (orgId: string, userId: string) =>
  (await app.orgraph.deps.db.selectFrom("org_memberships").select(["role", "sso_managed"]).where("org_id", "=", orgId).where("user_id", "=", userId).executeTakeFirst()) ?? null;
const teamRoleOf = async (teamId: string, userId: string) =>
  (await app.orgraph.deps.db.selectFrom("team_memberships").select(["role", "sso_managed"]).where("team_id", "=", teamId).where("principal_id", "=", userId).executeTakeFirst()) ?? null;
const signIn = async (token: string) => (await app.ok(token, viewer)).viewer as { user: { id: string; email: string }; organizations: { id: string }[] };

beforeAll(async () => {
  const platform = await generateKeyPair("RS256", { extractable: true });
  platformKey = platform.privateKey;
  const idp = await generateKeyPair("ES256");
  aKey = idp.privateKey;
  const jwk = { ...(await exportJWK(idp.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  jwks = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
  app = await startTestApp({
    env: {
      JWT_ISSUER: PLATFORM_ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_PUBLIC_KEY: await exportSPKI(platform.publicKey),
      SSO_JWKS_ALLOW_HTTP: "true",
      RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000",
    },
  });
  a = await app.seed.org("A");
  b = await app.seed.org("B");
  aTeam = await app.seed.team(a, "Serving");
  await app.ok(a.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: aTeam });
  await app.ok(a.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: aTeam });
  victim = await app.seed.member(b, "ADMIN", null, "victim");
  await app.ok(a.admin.key, connect, { o: a.orgId, i: A_ISSUER, a: AUDIENCE, j: jwksUrl });
  await app.ok(a.admin.key, mapGroup, { o: a.orgId, g: "eng", t: [{ teamId: aTeam, role: "MEMBER" }] });
  await app.ok(a.admin.key, mapGroup, { o: a.orgId, g: "leads", r: "ADMIN", t: [{ teamId: aTeam, role: "VIEWER" }] });
});
afterAll(async () => {
  await app?.close();
  jwks?.close();
});

describe("setSsoConnection", () => {
  it("needs exactly one of jwksUrl and publicKeyPem, a PEM that parses, an https (or allowed http) URL", async () => {
    const bad = async (vars: Record<string, unknown>) => codes(await app.gql(a.admin.key, connect, { o: a.orgId, i: "https://x.test/", a: "x", ...vars }));
    expect(await bad({})).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ j: jwksUrl, p: "-----BEGIN PUBLIC KEY-----" })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ p: "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----" })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ j: "ftp://idp.test/jwks" })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ j: "https://user:pw@idp.test/jwks" })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ j: jwksUrl, g: "" })).toEqual(["BAD_USER_INPUT"]);
  });

  it("http JWKS URLs are refused unless SSO_JWKS_ALLOW_HTTP (validated: true or false)", async () => {
    expect(() => loadConfig({ SSO_JWKS_ALLOW_HTTP: "maybe" })).toThrow(/SSO_JWKS_ALLOW_HTTP/);
    expect(loadConfig({}).sso.allowHttpJwks).toBe(false);
    const strict = await startTestApp();
    try {
      const org = await strict.seed.org();
      const result = await strict.gql(org.admin.key, connect, { o: org.orgId, i: "https://x.test/", a: "x", j: jwksUrl });
      expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
      expect(result.errors![0]!.message).toMatch(/https/);
    } finally {
      await strict.close();
    }
  });

  it("two organizations cannot connect the same issuer and audience, nor the platform's own (CONFLICT)", async () => {
    expect(codes(await app.gql(b.admin.key, connect, { o: b.orgId, i: A_ISSUER, a: AUDIENCE, j: jwksUrl }))).toEqual(["CONFLICT"]);
    expect(codes(await app.gql(b.admin.key, connect, { o: b.orgId, i: PLATFORM_ISSUER, a: AUDIENCE, j: jwksUrl }))).toEqual(["CONFLICT"]);
  });

  it("only a person with org:manage: a MEMBER is FORBIDDEN, an outsider NOT_FOUND, a team key and a service account FORBIDDEN, signed out UNAUTHENTICATED", async () => {
    const member = await app.seed.member(a, "MEMBER");
    const vars = { o: a.orgId, i: "https://other.test/", a: "x", j: jwksUrl };
    expect(codes(await app.gql(member.key, connect, vars))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(b.admin.key, connect, vars))).toEqual(["NOT_FOUND"]);
    const key = await app.ok(a.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "k", teamId: $t, type: FULL_ACCESS }) { secret } }`, { t: aTeam });
    expect(codes(await app.gql(key.createApiKey.secret, connect, vars))).toEqual(["FORBIDDEN"]);
    const bot = await app.ok(a.admin.key, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "sso-bot", role: ADMIN) { secret } }`, { t: aTeam });
    expect(codes(await app.gql(bot.createServiceAccount.secret, connect, vars))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(undefined, connect, vars))).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("signing in through a connection", () => {
  it("first sign-in provisions a managed account and its membership; the next finds the same account", async () => {
    const first = await signIn(await aToken("alice", "alice@a.test", ["eng"]));
    expect(first.organizations).toEqual([{ id: a.orgId }]);
    expect(await orgRoleOf(a.orgId, first.user.id)).toEqual({ role: "MEMBER", sso_managed: true });
    expect(await teamRoleOf(aTeam, first.user.id)).toEqual({ role: "MEMBER", sso_managed: true });
    const row = await app.orgraph.deps.db.selectFrom("users").selectAll().where("id", "=", first.user.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ managed_by_org_id: a.orgId, sso_issuer: A_ISSUER, sso_subject: "alice" });
    expect((await signIn(await aToken("alice", "alice@a.test", ["eng"]))).user.id).toBe(first.user.id);
  });

  it("ATTACK: org A's IdP mints a token for a platform user of org B: it signs in a different, managed account that reaches nothing of B", async () => {
    const signedIn = await signIn(await aToken("victim-sub", victim.email, ["eng"]));
    expect(signedIn.user.id).not.toBe(victim.userId);
    expect(signedIn.organizations).toEqual([{ id: a.orgId }]);
    const token = await aToken("victim-sub", victim.email, ["eng"]);
    const result = await app.gql(token, `query($o: ID!) { organization(id: $o) { id members { edges { node { role } } } } }`, { o: b.orgId });
    expect(result.data?.organization ?? null).toBeNull();
    // The victim's own account is untouched and still signs in through the platform's IdP.
    expect((await signIn(await platformToken("victim-platform", victim.email))).user.id).toBe(victim.userId);
  });

  it("ATTACK: an email org A squatted still signs in its real owner's platform account, not the managed one", async () => {
    const squatted = await signIn(await aToken("squatter", "future-user@example.test", ["leads"]));
    const owner = await signIn(await platformToken("owner", "future-user@example.test"));
    expect(owner.user.id).not.toBe(squatted.user.id);
    expect(owner.organizations).toEqual([]);
  });

  it("ATTACK: a managed account cannot accept another organization's invitation, nor create an organization", async () => {
    const token = await aToken("mallory", "mallory@a.test", ["eng"]);
    await signIn(token);
    const invited = await app.ok(b.admin.key, `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "mallory@a.test", role: MEMBER }) { token } }`, { o: b.orgId });
    const accepted = await app.gql(token, `mutation($t: String!) { acceptInvitation(token: $t) { user { id } } }`, { t: invited.inviteMember.token });
    expect(codes(accepted)).toEqual(["FORBIDDEN"]);
    expect(accepted.errors![0]!.message).toBe("This invitation was sent to another email address");
    const created = await app.gql(token, `mutation { createOrganization(name: "Mine") { id } }`);
    expect(codes(created)).toEqual(["FORBIDDEN"]);
  });

  it("a token of the platform's IdP never signs in a managed account (and grants no membership)", async () => {
    const managed = await signIn(await aToken("only-managed", "only-managed@a.test", ["eng"]));
    const platform = await signIn(await platformToken("p-only-managed", "only-managed@a.test"));
    expect(platform.user.id).not.toBe(managed.user.id);
    expect(platform.organizations).toEqual([]);
  });

  it("refused (401): unverified email, no email, a wrong audience, a key the JWKS lacks, an HS256 token, an audience list naming two organizations when neither azp nor the first audience tells which", async () => {
    const unauthenticated = async (token: string) => expect(codes(await app.gql(token, viewer))).toEqual(["UNAUTHENTICATED"]);
    await unauthenticated(await aToken("u1", "u1@a.test", ["eng"], { email_verified: false }));
    await unauthenticated(await sign(aKey, "ES256", { groups: ["eng"] }, { iss: A_ISSUER, sub: "u2" }));
    await unauthenticated(await sign(aKey, "ES256", { email: "u3@a.test" }, { iss: A_ISSUER, aud: "not-orgraph", sub: "u3" }));
    const stranger = await generateKeyPair("ES256");
    await unauthenticated(await sign(stranger.privateKey, "ES256", { email: "u4@a.test" }, { iss: A_ISSUER, sub: "u4" }));
    await unauthenticated(await sign(new TextEncoder().encode("a-shared-secret-of-32-characters!!") as never, "HS256", { email: "u5@a.test" }, { iss: A_ISSUER, sub: "u5" }));
    const c = await app.seed.org("C");
    await app.ok(c.admin.key, connect, { o: c.orgId, i: A_ISSUER, a: "orgraph-c", j: jwksUrl });
    await unauthenticated(await sign(aKey, "ES256", { email: "u6@a.test" }, { iss: A_ISSUER, aud: ["other", AUDIENCE, "orgraph-c"], sub: "u6" }));
  });

  it("an outage of org A's JWKS is a 503 for its tokens only; the platform's tokens still work", async () => {
    const other = await app.seed.org("Outage");
    const server = createServer((_req, res) => {
      res.statusCode = 500;
      res.end("down");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;
      await app.ok(other.admin.key, connect, { o: other.orgId, i: "https://down.test/", a: AUDIENCE, j: url });
      const logged = vi.spyOn(app.orgraph.deps.logger, "error");
      const response = await app.fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await sign(aKey, "ES256", { email: "d@down.test" }, { iss: "https://down.test/", sub: "d" })}` },
        body: JSON.stringify({ query: viewer }),
      });
      expect(response.status).toBe(503);
      expect(codes((await response.json()) as never)).toEqual(["AUTHZ_UNAVAILABLE"]);
      expect(logged).toHaveBeenCalledWith(expect.objectContaining({ err: expect.anything() }), expect.stringContaining("JWKS"));
      logged.mockRestore();
      expect((await signIn(await aToken("alice", "alice@a.test", ["eng"]))).organizations).toEqual([{ id: a.orgId }]);
      expect((await signIn(await platformToken("platform-1", "platform-1@example.test"))).organizations).toEqual([]);
    } finally {
      server.close();
    }
  });
});

describe("reconciliation at every sign-in", () => {
  it("highest role wins; a removed group is a removed membership on the very next request (GraphQL and /v1/authorize with a personal key)", async () => {
    const as = (groups: string[]) => aToken("bob", "bob@a.test", groups);
    const bob = (await signIn(await as(["eng", "leads"]))).user.id;
    expect(await orgRoleOf(a.orgId, bob)).toEqual({ role: "ADMIN", sso_managed: true });
    expect(await teamRoleOf(aTeam, bob)).toEqual({ role: "MEMBER", sso_managed: true });
    await signIn(await as(["eng"]));
    expect(await orgRoleOf(a.orgId, bob)).toEqual({ role: "MEMBER", sso_managed: true });
    const key = (await app.ok(await as(["eng"]), `mutation { createApiKey(input: { name: "mine" }) { secret } }`)).createApiKey.secret as string;
    const invoke = { action: "model:invoke", team: aTeam, model: "llama", environment: "staging" };
    expect((await authorize(app, key, invoke)).status).toBe(200);
    const teamQuery = `query($t: ID!) { node(id: $t) { id } }`;
    expect((await app.ok(await as(["eng"]), teamQuery, { t: aTeam })).node).toEqual({ id: aTeam });

    const without = await as([]);
    expect((await signIn(without)).organizations).toEqual([]);
    expect(await orgRoleOf(a.orgId, bob)).toBeNull();
    expect(await teamRoleOf(aTeam, bob)).toBeNull();
    expect(codes(await app.gql(without, teamQuery, { t: aTeam }))).toEqual(["NOT_FOUND"]);
    expect((await authorize(app, key, invoke)).status).toBe(403);
  });

  it("memberships granted by hand are left alone; a change by hand makes an SSO-managed one by hand", async () => {
    const carol = (await signIn(await aToken("carol", "carol@a.test", ["eng"]))).user.id;
    await app.ok(a.admin.key, `mutation($o: ID!, $u: ID!) { setOrgRole(organizationId: $o, userId: $u, role: BILLING_ADMIN) { role } }`, { o: a.orgId, u: carol });
    expect(await orgRoleOf(a.orgId, carol)).toEqual({ role: "BILLING_ADMIN", sso_managed: false });
    await signIn(await aToken("carol", "carol@a.test", []));
    expect(await orgRoleOf(a.orgId, carol)).toEqual({ role: "BILLING_ADMIN", sso_managed: false });
    // Its team membership was still SSO-managed: the groups no longer imply it.
    expect(await teamRoleOf(aTeam, carol)).toBeNull();
    await app.ok(a.admin.key, `mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, principalId: $u, role: OPERATOR) { role } }`, { t: aTeam, u: carol });
    await signIn(await aToken("carol", "carol@a.test", ["leads"]));
    expect(await teamRoleOf(aTeam, carol)).toEqual({ role: "OPERATOR", sso_managed: false });
    expect(await orgRoleOf(a.orgId, carol)).toEqual({ role: "BILLING_ADMIN", sso_managed: false });
  });

  it("the last ADMIN is never removed or demoted by a sign-in (a warning is logged)", async () => {
    const solo = await app.seed.org("Solo");
    const soloIssuer = "https://idp.solo.test/";
    await app.ok(solo.admin.key, connect, { o: solo.orgId, i: soloIssuer, a: AUDIENCE, j: jwksUrl });
    await app.ok(solo.admin.key, mapGroup, { o: solo.orgId, g: "admins", r: "ADMIN" });
    const token = (groups: string[]) => sign(aKey, "ES256", { email: "dave@solo.test", groups }, { iss: soloIssuer, sub: "dave" });
    const dave = (await signIn(await token(["admins"]))).user.id;
    await app.ok(await token(["admins"]), `mutation($o: ID!, $u: ID!) { removeMember(organizationId: $o, userId: $u) }`, { o: solo.orgId, u: solo.admin.userId });
    const warned = vi.spyOn(app.orgraph.deps.logger, "warn");
    await signIn(await token([]));
    expect(await orgRoleOf(solo.orgId, dave)).toEqual({ role: "ADMIN", sso_managed: true });
    expect(warned).toHaveBeenCalledWith(expect.anything(), expect.stringContaining("last ADMIN"));
    warned.mockRestore();
  });

  it("each change is audited as the identity provider (no actor, method sso, the issuer as credential)", async () => {
    const erin = (await signIn(await aToken("erin", "erin@a.test", ["eng"]))).user.id;
    const events = await app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("org_id", "=", a.orgId).where("target_id", "=", erin).orderBy("seq").execute();
    expect(events.map((e) => [e.action, e.actor_id, e.auth_method, e.auth_ref])).toEqual([
      ["sso.user.create", null, "sso", A_ISSUER],
      ["sso.member.join", null, "sso", A_ISSUER],
      ["sso.team_member.join", null, "sso", A_ISSUER],
    ]);
    // A sign-in that changes nothing writes nothing.
    await signIn(await aToken("erin", "erin@a.test", ["eng"]));
    expect(await app.orgraph.deps.db.selectFrom("audit_events").select("id").where("target_id", "=", erin).execute()).toHaveLength(3);
  });

  it("the groups claim is the connection's: a custom name, a single string counts as one group, anything else is none", async () => {
    const c = await app.seed.org("Claims");
    const issuer = "https://idp.claims.test/";
    await app.ok(c.admin.key, connect, { o: c.orgId, i: issuer, a: AUDIENCE, j: jwksUrl, g: "roles" });
    await app.ok(c.admin.key, mapGroup, { o: c.orgId, g: "staff" });
    const as = (claims: Record<string, unknown>) => sign(aKey, "ES256", { email: "f@claims.test", ...claims }, { iss: issuer, sub: "f" });
    expect((await signIn(await as({ roles: "staff" }))).organizations).toEqual([{ id: c.orgId }]);
    expect((await signIn(await as({ groups: ["staff"] }))).organizations).toEqual([]);
    expect((await signIn(await as({ roles: { staff: true } }))).organizations).toEqual([]);
    expect((await signIn(await as({ roles: [42, "staff"] }))).organizations).toEqual([{ id: c.orgId }]);
  });

  it("ATTACK: repointing org A's connection at a new issuer does not let that issuer's subjects reach the old managed accounts", async () => {
    const d = await app.seed.org("Repoint");
    const oldIssuer = "https://old.repoint.test/";
    await app.ok(d.admin.key, connect, { o: d.orgId, i: oldIssuer, a: AUDIENCE, j: jwksUrl });
    await app.ok(d.admin.key, mapGroup, { o: d.orgId, g: "eng" });
    const old = await signIn(await sign(aKey, "ES256", { email: "gina@repoint.test", groups: ["eng"] }, { iss: oldIssuer, sub: "gina" }));
    const newPair = await generateKeyPair("ES256", { extractable: true });
    const newIssuer = "https://new.repoint.test/";
    await app.ok(d.admin.key, connect, { o: d.orgId, i: newIssuer, a: AUDIENCE, p: await exportSPKI(newPair.publicKey) });
    // The old issuer's tokens no longer name a connection.
    expect(codes(await app.gql(await sign(aKey, "ES256", { email: "gina@repoint.test" }, { iss: oldIssuer, sub: "gina" }), viewer))).toEqual(["UNAUTHENTICATED"]);
    // The same subject and email from the new issuer: not the old account (its email is taken in the organization: refused).
    expect(codes(await app.gql(await sign(newPair.privateKey, "ES256", { email: "gina@repoint.test", groups: ["eng"] }, { iss: newIssuer, sub: "gina" }), viewer))).toEqual(["UNAUTHENTICATED"]);
    const fresh = await signIn(await sign(newPair.privateKey, "ES256", { email: "gina2@repoint.test", groups: ["eng"] }, { iss: newIssuer, sub: "gina" }));
    expect(fresh.user.id).not.toBe(old.user.id);
  });
});

describe("group mappings", () => {
  it("Organization.ssoGroupMappings: for org:manage holders; an empty list for a member", async () => {
    const query = `query($o: ID!) { organization(id: $o) { ssoGroupMappings { group orgRole teams { team { id } role principal { id } } } } }`;
    const seen = (await app.ok(a.admin.key, query, { o: a.orgId })).organization.ssoGroupMappings;
    expect(seen).toContainEqual({ group: "leads", orgRole: "ADMIN", teams: [{ team: { id: aTeam }, role: "VIEWER", principal: { id: a.admin.userId } }] });
    const member = await app.seed.member(a, "MEMBER");
    expect((await app.ok(member.key, query, { o: a.orgId })).organization.ssoGroupMappings).toEqual([]);
  });

  it("validates: a team of another organization answers as a random id; a team twice, an empty or too long group are BAD_USER_INPUT", async () => {
    const foreign = await app.gql(a.admin.key, mapGroup, { o: a.orgId, g: "x", t: [{ teamId: b.defaultTeamId, role: "MEMBER" }] });
    const gone = await app.seed.team(a, "Gone");
    await app.ok(a.admin.key, `mutation($t: ID!) { deleteTeam(id: $t) }`, { t: gone });
    const random = await app.gql(a.admin.key, mapGroup, { o: a.orgId, g: "x", t: [{ teamId: gone, role: "MEMBER" }] });
    expect(codes(foreign)).toEqual(["BAD_USER_INPUT"]);
    expect(foreign.errors![0]!.message).toBe(random.errors![0]!.message);
    expect(codes(await app.gql(a.admin.key, mapGroup, { o: a.orgId, g: "x", t: [{ teamId: aTeam, role: "MEMBER" }, { teamId: aTeam, role: "VIEWER" }] }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await app.gql(a.admin.key, mapGroup, { o: a.orgId, g: "" }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await app.gql(a.admin.key, mapGroup, { o: a.orgId, g: "g".repeat(257) }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("gated by org:manage: a MEMBER is FORBIDDEN, an outsider NOT_FOUND, for both mutations", async () => {
    const member = await app.seed.member(a, "BILLING_ADMIN");
    for (const [query, vars] of [[mapGroup, { o: a.orgId, g: "eng", r: "ADMIN" }], [unmapGroup, { o: a.orgId, g: "eng" }]] as const) {
      expect(codes(await app.gql(member.key, query, vars))).toEqual(["FORBIDDEN"]);
      expect(codes(await app.gql(b.admin.key, query, vars))).toEqual(["NOT_FOUND"]);
    }
  });

  it("deleting: true once, false when there is no such mapping; the group's members lose what it granted at their next sign-in", async () => {
    await app.ok(a.admin.key, mapGroup, { o: a.orgId, g: "temp", r: "BILLING_ADMIN" });
    const hank = (await signIn(await aToken("hank", "hank@a.test", ["temp"]))).user.id;
    expect(await orgRoleOf(a.orgId, hank)).toEqual({ role: "BILLING_ADMIN", sso_managed: true });
    expect((await app.ok(a.admin.key, unmapGroup, { o: a.orgId, g: "temp" })).deleteSsoGroupMapping).toBe(true);
    expect((await app.ok(a.admin.key, unmapGroup, { o: a.orgId, g: "temp" })).deleteSsoGroupMapping).toBe(false);
    await signIn(await aToken("hank", "hank@a.test", ["temp"]));
    expect(await orgRoleOf(a.orgId, hank)).toBeNull();
  });
});
