import { getIntrospectionQuery } from "graphql";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../src/auth/secrets.js";
import { codes, startTestApp, type GraphQLResponse, type SeededOrg, type TestApp } from "./helpers/app.js";
import { FaultyAuthz } from "./helpers/faulty-authz.js";
import { authorize } from "./helpers/gateway.js";

/**
 * Issue 16 §3, key lifecycle: the key policy (setKeyPolicy) on every key-minting path, and
 * rotateApiKey, with the red team's findings as attacks: C1 (a rotation yields no secret more
 * powerful than the caller), C2 (revoking a user's minted keys reaches the keys they rotated),
 * K3 (a previous secret mints nothing), K4 (no grace past the key's expiry), K5 (the payload
 * survives a failing flush), K6 (a key of a deleted team is a nonexistent key), K7 (audited,
 * never the secret), and the instant the grace ends (GraphQL and /v1/authorize).
 */
let app: TestApp;
let privateKey: CryptoKey;
const faults = new FaultyAuthz();
const issuer = "https://idp.example.test/";
const audience = "orgraph";
const GHOST_KEY = `key_${"0".repeat(28)}`;
const DAY = 86_400_000;

const createKey = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id expiresAt } } }`;
const rotate = `mutation($id: ID!, $g: Int) { rotateApiKey(id: $id, graceSeconds: $g) {
  secret apiKey { id prefix keyKind type expiresAt lastUsedAt requestsPerMinute team { id } environments { id } models { id } } } }`;
const setPolicy = `mutation($o: ID!, $m: Int, $r: Boolean!) { setKeyPolicy(organizationId: $o, maxLifetimeDays: $m, requireExpiry: $r) { id keyPolicy { maxLifetimeDays requireExpiry } } }`;
const whoami = `{ viewer { principal { id } } }`;

const oidcToken = (email: string) =>
  new SignJWT({ email, email_verified: true }).setProtectedHeader({ alg: "RS256" }).setSubject(`idp-${email}`).setIssuer(issuer).setAudience(audience).setExpirationTime("5m").sign(privateKey);

/** Does the secret authenticate on GraphQL? (UNAUTHENTICATED: no; anything else fails the test.) */
async function alive(secret: string): Promise<boolean> {
  const result = await app.gql(secret, whoami);
  if (!result.errors) return true;
  expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
  return false;
}
/** The answer with `id` blanked, to compare an invisible target's answer with a nonexistent one's. */
const normalized = (result: GraphQLResponse, id: string) =>
  JSON.stringify({ data: result.data ?? null, errors: (result.errors ?? []).map((e) => ({ code: e.extensions?.code, message: e.message.replaceAll(id, "<id>") })) });
const keyRow = (id: string) => app.orgraph.deps.db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

interface World {
  org: SeededOrg;
  team: string;
  env: string;
  restricted: string;
  model: string;
}

/** An organization with a team holding an open and a restricted environment and a model. */
async function world(name: string): Promise<World> {
  const org = await app.seed.org(name);
  const team = await app.seed.team(org, "Serving");
  const call = (q: string, v: Record<string, unknown>) => app.ok(org.admin.key, q, v);
  const env = (await call(`mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: team })).createEnvironment.id;
  const restricted = (await call(`mutation($t: ID!) { createEnvironment(teamId: $t, name: "vault", restricted: true) { id } }`, { t: team })).createEnvironment.id;
  const model = (await call(`mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: team })).createModel.id;
  return { org, team, env, restricted, model };
}

async function teamKey(w: World, type: string, extra: Record<string, unknown> = {}) {
  return (await app.ok(w.org.admin.key, createKey, { i: { name: `${type} key`, teamId: w.team, type, ...extra } })).createApiKey as { secret: string; apiKey: { id: string; expiresAt: string | null } };
}

async function serviceAccount(w: World, role = "MEMBER") {
  const data = await app.ok(w.org.admin.key, `mutation($t: ID!, $r: TeamRole!) { createServiceAccount(teamId: $t, name: "robot-${Math.random().toString(36).slice(2, 8)}", role: $r) { serviceAccount { id } apiKey { id expiresAt } secret } }`, { t: w.team, r: role });
  return data.createServiceAccount as { serviceAccount: { id: string }; apiKey: { id: string; expiresAt: string | null }; secret: string };
}

/** A member holding a custom role of `permissions` on the world's team. */
async function customRoleHolder(w: World, permissions: string[]) {
  const member = await app.seed.member(w.org, "MEMBER", [], "custom");
  const role = (await app.ok(w.org.admin.key, `mutation($o: ID!, $p: [String!]!) { createRole(organizationId: $o, name: "keys-${Math.random().toString(36).slice(2, 8)}", permissions: $p) { id } }`, { o: w.org.orgId, p: permissions })).createRole.id;
  await app.ok(w.org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: w.team, p: member.userId });
  return member;
}

const invoke = (w: World, secret: string) => authorize(app, secret, { action: "model:invoke", team: w.team, model: "llama", environment: "staging" });

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  privateKey = pair.privateKey as CryptoKey;
  app = await startTestApp({
    wrapAuthzClient: faults.wrap,
    env: { JWT_ISSUER: issuer, JWT_AUDIENCE: audience, JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey), RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" },
  });
});
afterAll(() => app?.close());

describe("setKeyPolicy: org ADMINs set it (org:manage), members read it", () => {
  let w: World;
  beforeAll(async () => {
    w = await world("Policy Corp");
  });

  it("an org ADMIN sets it; a team ADMIN or custom role is FORBIDDEN, an outsider NOT_FOUND as for a nonexistent org; members read it, keys do not", async () => {
    const teamAdmin = await app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "ADMIN" }], "team-admin");
    const custom = await customRoleHolder(w, ["team:view", "team:manage_keys", "team:manage_members"]);
    const outsider = await app.seed.org("Outsider");
    for (const key of [teamAdmin.key, custom.key]) expect(codes(await app.gql(key, setPolicy, { o: w.org.orgId, m: 30, r: true }))).toEqual(["FORBIDDEN"]);
    const stranger = await app.gql(outsider.admin.key, setPolicy, { o: w.org.orgId, m: 30, r: true });
    const ghost = await app.gql(outsider.admin.key, setPolicy, { o: `org_${"0".repeat(28)}`, m: 30, r: true });
    expect(codes(stranger)).toEqual(["NOT_FOUND"]);
    expect(normalized(stranger, w.org.orgId)).toBe(normalized(ghost, `org_${"0".repeat(28)}`));

    const set = await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: 30, r: true });
    expect(set.setKeyPolicy.keyPolicy).toEqual({ maxLifetimeDays: 30, requireExpiry: true });
    const read = `query($o: ID!) { organization(id: $o) { keyPolicy { maxLifetimeDays requireExpiry } } }`;
    expect((await app.ok(teamAdmin.key, read, { o: w.org.orgId })).organization.keyPolicy).toEqual({ maxLifetimeDays: 30, requireExpiry: true });
    const key = await teamKey(w, "FULL_ACCESS", { expiresAt: new Date(Date.now() + DAY).toISOString() });
    const asKey = await app.gql(key.secret, `query($t: ID!) { team(id: $t) { organization { id keyPolicy { requireExpiry } } } }`, { t: w.team });
    expect(codes(asKey)).toContain("FORBIDDEN");
    expect(asKey.data?.team?.organization?.keyPolicy ?? null).toBeNull();
    await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: null, r: false });
  });

  it.each([0, -1, 3651, 2_147_483_647])("maxLifetimeDays %d is BAD_USER_INPUT naming the range (an outsider still NOT_FOUND)", async (days) => {
    const result = await app.gql(w.org.admin.key, setPolicy, { o: w.org.orgId, m: days, r: false });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.message).toContain("from 1 to 3650");
    const outsider = await app.seed.org("Outsider");
    expect(codes(await app.gql(outsider.admin.key, setPolicy, { o: w.org.orgId, m: days, r: false }))).toEqual(["NOT_FOUND"]);
  });
});

describe("the policy binds every key-minting path", () => {
  let w: World;
  let member: { key: string; userId: string; email: string };
  beforeAll(async () => {
    w = await world("Strict Corp");
    member = await app.seed.member(w.org, "MEMBER", [], "strict-member");
    await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: 30, r: true });
  });
  afterAll(() => app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: null, r: false }));

  const kinds = (): [string, string, Record<string, unknown>][] => [
    ["a personal key (of a member)", member.key, {}],
    ["a FULL_ACCESS team key", w.org.admin.key, { teamId: w.team, type: "FULL_ACCESS" }],
    ["an INFERENCE_ONLY team key", w.org.admin.key, { teamId: w.team, type: "INFERENCE_ONLY" }],
    ["a METRICS_ONLY team key", w.org.admin.key, { teamId: w.team, type: "METRICS_ONLY" }],
  ];

  it("requireExpiry: createApiKey without expiresAt is BAD_USER_INPUT naming the policy, for every kind of key", async () => {
    const account = await serviceAccount(w);
    for (const [label, caller, input] of [...kinds(), ["a service-account key", w.org.admin.key, { serviceAccountId: account.serviceAccount.id }] as const]) {
      const result = await app.gql(caller, createKey, { i: { name: "no expiry", ...input } });
      expect({ label, codes: codes(result) }).toEqual({ label, codes: ["BAD_USER_INPUT"] });
      expect(result.errors![0]!.message).toContain("requireExpiry");
      expect(result.errors![0]!.message).toContain("Strict Corp");
    }
  });

  it("maxLifetimeDays: an expiresAt beyond it is BAD_USER_INPUT naming the limit; within it the key is made", async () => {
    const account = await serviceAccount(w);
    for (const [label, caller, input] of [...kinds(), ["a service-account key", w.org.admin.key, { serviceAccountId: account.serviceAccount.id }] as const]) {
      const beyond = await app.gql(caller, createKey, { i: { name: "too long", ...input, expiresAt: new Date(Date.now() + 31 * DAY).toISOString() } });
      expect({ label, codes: codes(beyond) }).toEqual({ label, codes: ["BAD_USER_INPUT"] });
      expect(beyond.errors![0]!.message).toContain("at most 30 days (maxLifetimeDays)");
      const within = await app.gql(caller, createKey, { i: { name: "fine", ...input, expiresAt: new Date(Date.now() + 29 * DAY).toISOString() } });
      expect({ label, errors: within.errors }).toEqual({ label, errors: undefined });
    }
  });

  it("under a cap that does not require an expiry, a key created without one expires at the cap", async () => {
    const capped = await world("Capped Corp");
    await app.ok(capped.org.admin.key, setPolicy, { o: capped.org.orgId, m: 5, r: false });
    for (const input of [{}, { teamId: capped.team, type: "INFERENCE_ONLY" }]) {
      const created = (await app.ok(capped.org.admin.key, createKey, { i: { name: "left out", ...input } })).createApiKey;
      const days = (new Date(created.apiKey.expiresAt).getTime() - Date.now()) / DAY;
      expect(days).toBeGreaterThan(4.9);
      expect(days).toBeLessThanOrEqual(5);
    }
  });

  it("createServiceAccount's first key and acceptInvitation's key expire at the cap", async () => {
    const account = await serviceAccount(w);
    const days = (iso: string | null) => (iso ? (new Date(iso).getTime() - Date.now()) / DAY : Infinity);
    expect(days(account.apiKey.expiresAt)).toBeGreaterThan(29.9);
    expect(days(account.apiKey.expiresAt)).toBeLessThanOrEqual(30);
    const joined = await app.seed.member(w.org, "MEMBER", [], "joiner");
    const row = await app.orgraph.deps.db.selectFrom("api_keys").select("expires_at").where("secret_hash", "=", hashSecret(joined.key)).executeTakeFirstOrThrow();
    expect(row.expires_at).toBeInstanceOf(Date);
    expect(days(row.expires_at!.toISOString())).toBeLessThanOrEqual(30);
  });

  it("a personal key obeys the strictest policy among its user's organizations", async () => {
    const lax = await app.seed.org("Lax Corp");
    const result = await app.gql(lax.admin.key, createKey, { i: { name: "no expiry" } });
    expect(result.errors).toBeUndefined();
    // The member of Strict Corp joins Lax Corp too: Strict Corp's policy still binds their personal keys.
    const both = await app.seed.member(lax, "MEMBER", [], "both");
    const invited = await app.ok(w.org.admin.key, `mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token } }`, { i: { organizationId: w.org.orgId, email: both.email, role: "MEMBER" } });
    await app.ok(both.key, `mutation($t: String!) { acceptInvitation(token: $t) { user { id } } }`, { t: invited.inviteMember.token });
    const refused = await app.gql(both.key, createKey, { i: { name: "no expiry" } });
    expect(codes(refused)).toEqual(["BAD_USER_INPUT"]);
    expect(refused.errors![0]!.message).toContain("Strict Corp");
  });
});

describe("rotateApiKey: same key, new secret", () => {
  let w: World;
  beforeAll(async () => {
    w = await world("Rotate Corp");
  });

  it("keeps the key's identity (id, type, scope, grants, limit, last use); the new secret is shown once and hashed at rest; grace 0 ends the old secret now (GraphQL and gateway)", async () => {
    const key = await teamKey(w, "INFERENCE_ONLY", { environmentIds: [w.env], modelIds: [w.model], requestsPerMinute: 50 });
    expect((await invoke(w, key.secret)).status).toBe(200);
    await app.orgraph.deps.keyLastUsed.flush();
    const before = await keyRow(key.apiKey.id);
    expect(before.last_used_at).toBeInstanceOf(Date);
    const rotated = (await app.ok(w.org.admin.key, rotate, { id: key.apiKey.id })).rotateApiKey;
    expect(rotated.apiKey).toMatchObject({ id: key.apiKey.id, keyKind: "TEAM", type: "INFERENCE_ONLY", requestsPerMinute: 50, team: { id: w.team }, environments: [{ id: w.env }], models: [{ id: w.model }] });
    expect(new Date(rotated.apiKey.lastUsedAt).getTime()).toBe(before.last_used_at!.getTime());
    expect(rotated.secret).not.toBe(key.secret);
    expect(rotated.secret.startsWith(rotated.apiKey.prefix)).toBe(true);
    const after = await keyRow(key.apiKey.id);
    expect(after.secret_hash).toBe(hashSecret(rotated.secret));
    expect(JSON.stringify(after)).not.toContain(rotated.secret);
    expect(after.previous_secret_hash).toBeNull();
    // Shown once: no field answers it again.
    const listed = await app.ok(w.org.admin.key, `query($t: ID!) { team(id: $t) { apiKeys { id prefix } } }`, { t: w.team });
    expect(JSON.stringify(listed)).not.toContain(rotated.secret);
    expect(await alive(key.secret)).toBe(false);
    expect((await invoke(w, key.secret)).status).toBe(401);
    expect((await invoke(w, rotated.secret)).status).toBe(200);
    // Grants kept: a FULL_ACCESS key granted a restricted environment still manages it under its new secret.
    const full = await teamKey(w, "FULL_ACCESS");
    await app.ok(w.org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: w.restricted, p: full.apiKey.id });
    const renewed = (await app.ok(w.org.admin.key, rotate, { id: full.apiKey.id })).rotateApiKey.secret;
    expect((await authorize(app, renewed, { action: "environment:manage", team: w.team, model: "llama", environment: "vault" })).status).toBe(200);
  });

  it("with a grace period the old secret works until it ends, then is 401 on GraphQL and /v1/authorize, however often it was used (no cache keeps it alive)", async () => {
    const key = await teamKey(w, "INFERENCE_ONLY");
    const long = await teamKey(w, "INFERENCE_ONLY");
    const rotatedLong = (await app.ok(w.org.admin.key, rotate, { id: long.apiKey.id, g: 3600 })).rotateApiKey;
    expect(await alive(long.secret)).toBe(true);
    expect((await invoke(w, long.secret)).status).toBe(200);
    expect((await invoke(w, rotatedLong.secret)).status).toBe(200);

    const rotated = (await app.ok(w.org.admin.key, rotate, { id: key.apiKey.id, g: 2 })).rotateApiKey;
    const until = (await keyRow(key.apiKey.id)).previous_secret_expires_at!;
    // Used as often as may be while the grace lasts (warming every cache); its answer then is not asserted.
    while (Date.now() < until.getTime() - 200) {
      await invoke(w, key.secret);
      await app.gql(key.secret, whoami);
    }
    while (Date.now() <= until.getTime()) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await invoke(w, key.secret)).status).toBe(401);
    expect(await alive(key.secret)).toBe(false);
    expect((await invoke(w, rotated.secret)).status).toBe(200);
  });

  it("at most one previous secret: rotating twice ends the first secret at once", async () => {
    const key = await teamKey(w, "INFERENCE_ONLY");
    const second = (await app.ok(w.org.admin.key, rotate, { id: key.apiKey.id, g: 3600 })).rotateApiKey.secret;
    const third = (await app.ok(w.org.admin.key, rotate, { id: key.apiKey.id, g: 3600 })).rotateApiKey.secret;
    expect(await alive(key.secret)).toBe(false);
    expect((await invoke(w, key.secret)).status).toBe(401);
    expect(await alive(second)).toBe(true);
    expect(await alive(third)).toBe(true);
  });

  it("K4: an expired key is not rotated and its secret is not revived; the grace never outlives the key's expiry", async () => {
    const key = await teamKey(w, "INFERENCE_ONLY", { expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await app.orgraph.deps.db.updateTable("api_keys").set({ expires_at: new Date(Date.now() - 1000) }).where("id", "=", key.apiKey.id).execute();
    await app.ok(w.org.admin.key, `mutation { createTeam(organizationId: "${w.org.orgId}", name: "stamp-${Date.now()}") { id } }`); // moves the cache stamp
    const result = await app.gql(w.org.admin.key, rotate, { id: key.apiKey.id, g: 3600 });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(await alive(key.secret)).toBe(false);
    expect((await invoke(w, key.secret)).status).toBe(401);
    expect((await keyRow(key.apiKey.id)).previous_secret_hash).toBeNull();

    const soon = await teamKey(w, "INFERENCE_ONLY", { expiresAt: new Date(Date.now() + 3000).toISOString() });
    const rotated = (await app.ok(w.org.admin.key, rotate, { id: soon.apiKey.id, g: 3600 })).rotateApiKey;
    const row = await keyRow(soon.apiKey.id);
    expect(row.previous_secret_expires_at!.getTime()).toBe(row.expires_at!.getTime());
    while (Date.now() <= row.expires_at!.getTime()) await new Promise((resolve) => setTimeout(resolve, 100));
    for (const secret of [soon.secret, rotated.secret]) {
      expect(await alive(secret)).toBe(false);
      expect((await invoke(w, secret)).status).toBe(401);
    }
  });

  it.each([-1, 604_801, 2_147_483_647])("graceSeconds %d is BAD_USER_INPUT (and the key is unchanged)", async (grace) => {
    const key = await teamKey(w, "INFERENCE_ONLY");
    const result = await app.gql(w.org.admin.key, rotate, { id: key.apiKey.id, g: grace });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.message).toContain("graceSeconds must be a whole number of seconds from 0 to 604,800");
    expect(await alive(key.secret)).toBe(true);
  });

  it("a revoked key is not rotated", async () => {
    const key = await teamKey(w, "INFERENCE_ONLY");
    await app.ok(w.org.admin.key, `mutation($k: ID!) { revokeApiKey(id: $k) { id } }`, { k: key.apiKey.id });
    expect(codes(await app.gql(w.org.admin.key, rotate, { id: key.apiKey.id }))).toEqual(["BAD_USER_INPUT"]);
    expect(await alive(key.secret)).toBe(false);
  });

  it("invisible equals nonexistent: another org's key, another user's personal key, a key of a deleted team (K6), a bad grace", async () => {
    const other = await world("Other Corp");
    const theirs = await teamKey(other, "INFERENCE_ONLY");
    const member = await app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "ADMIN" }], "peer");
    const personal = (await app.ok(member.key, createKey, { i: { name: "mine" } })).createApiKey;
    const doomedTeam = await app.seed.team(w.org, "Doomed");
    const doomed = (await app.ok(w.org.admin.key, createKey, { i: { name: "d", teamId: doomedTeam, type: "METRICS_ONLY" } })).createApiKey;
    await app.ok(w.org.admin.key, `mutation($t: ID!) { deleteTeam(id: $t) }`, { t: doomedTeam });
    const cases: [string, string, string, number | null][] = [
      ["another org's team key, by this org's ADMIN", w.org.admin.key, theirs.apiKey.id, null],
      ["another org's team key, bad grace", w.org.admin.key, theirs.apiKey.id, -5],
      ["a member's personal key, by the org ADMIN", w.org.admin.key, personal.apiKey.id, null],
      ["a member's personal key, by a team key", theirs.secret, personal.apiKey.id, null],
      ["a key of a deleted team, by the org ADMIN", w.org.admin.key, doomed.apiKey.id, null],
    ];
    for (const [label, caller, id, grace] of cases) {
      const mine = await app.gql(caller, rotate, { id, g: grace });
      const ghost = await app.gql(caller, rotate, { id: GHOST_KEY, g: grace });
      expect({ label, codes: codes(mine) }).toEqual({ label, codes: ["NOT_FOUND"] });
      expect({ label, answer: normalized(mine, id) }).toEqual({ label, answer: normalized(ghost, GHOST_KEY) });
    }
    expect(await alive(theirs.secret)).toBe(true);
    expect(await alive(personal.secret)).toBe(true);
  });
});

describe("C1: a rotation never yields a secret more powerful than its caller", () => {
  let w: World;
  beforeAll(async () => {
    w = await world("Escalation Corp");
  });

  it("a custom role with team:view + team:manage_keys cannot rotate a FULL_ACCESS or INFERENCE_ONLY key (FORBIDDEN, secret unchanged); it may rotate a METRICS_ONLY key, whose powers it holds", async () => {
    const custom = await customRoleHolder(w, ["team:view", "team:manage_keys", "metrics:read"]);
    for (const type of ["FULL_ACCESS", "INFERENCE_ONLY"]) {
      const key = await teamKey(w, type);
      const result = await app.gql(custom.key, rotate, { id: key.apiKey.id });
      expect({ type, codes: codes(result) }).toEqual({ type, codes: ["FORBIDDEN"] });
      expect(result.data?.rotateApiKey ?? null).toBeNull();
      expect(await alive(key.secret)).toBe(true);
      expect((await app.ok(w.org.admin.key, rotate, { id: key.apiKey.id })).rotateApiKey.secret).toBeTruthy();
    }
    const metrics = await teamKey(w, "METRICS_ONLY");
    expect((await app.ok(custom.key, rotate, { id: metrics.apiKey.id })).rotateApiKey.apiKey.id).toBe(metrics.apiKey.id);
  });

  it("a team ADMIN who is no grantee of a restricted environment cannot rotate a FULL_ACCESS key granted there; the org ADMIN can", async () => {
    const teamAdmin = await app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "ADMIN" }], "t-admin");
    const key = await teamKey(w, "FULL_ACCESS");
    // Without the grant, the team ADMIN holds all the key holds.
    expect((await app.ok(teamAdmin.key, rotate, { id: key.apiKey.id })).rotateApiKey.secret).toBeTruthy();
    const granted = await teamKey(w, "FULL_ACCESS");
    await app.ok(w.org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: w.restricted, p: granted.apiKey.id });
    expect(codes(await app.gql(teamAdmin.key, rotate, { id: granted.apiKey.id }))).toEqual(["FORBIDDEN"]);
    expect(await alive(granted.secret)).toBe(true);
    expect((await app.ok(w.org.admin.key, rotate, { id: granted.apiKey.id })).rotateApiKey.secret).toBeTruthy();
  });

  it("a service account's key: refused to a manager of keys who lacks the account's powers, allowed to the team ADMIN", async () => {
    const custom = await customRoleHolder(w, ["team:view", "team:manage_keys"]);
    const account = await serviceAccount(w, "MEMBER");
    expect(codes(await app.gql(custom.key, rotate, { id: account.apiKey.id }))).toEqual(["FORBIDDEN"]);
    expect(await alive(account.secret)).toBe(true);
    const teamAdmin = await app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "ADMIN" }], "sa-admin");
    const rotated = (await app.ok(teamAdmin.key, rotate, { id: account.apiKey.id })).rotateApiKey;
    expect((await app.ok(rotated.secret, whoami)).viewer.principal.id).toBe(account.serviceAccount.id);
  });

  it("a personal key: its owner rotates it (and acts as themselves); nobody else, not even an org ADMIN", async () => {
    const member = await app.seed.member(w.org, "MEMBER", [], "owner");
    const personal = (await app.ok(member.key, createKey, { i: { name: "mine" } })).createApiKey;
    expect(codes(await app.gql(w.org.admin.key, rotate, { id: personal.apiKey.id }))).toEqual(["NOT_FOUND"]);
    const rotated = (await app.ok(member.key, rotate, { id: personal.apiKey.id })).rotateApiKey;
    expect((await app.ok(rotated.secret, whoami)).viewer.principal.id).toBe(member.userId);
    expect(await alive(personal.secret)).toBe(false);
  });

  it("team keys rotate nothing, not even themselves", async () => {
    const full = await teamKey(w, "FULL_ACCESS");
    const other = await teamKey(w, "INFERENCE_ONLY");
    for (const id of [full.apiKey.id, other.apiKey.id]) expect(codes(await app.gql(full.secret, rotate, { id }))).toEqual(["NOT_FOUND"]);
  });
});

describe("C2: revoking the keys a user minted reaches the keys they rotated", () => {
  it("an unverified account rotates a team key, then its owner's first verified sign-in: the rotated secret is useless", async () => {
    const w = await world("Hijack Corp");
    // Seeded members accept signed out: their accounts are unverified until a verified sign-in.
    const hijacker = await app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "ADMIN" }], "hijacker");
    const key = await teamKey(w, "INFERENCE_ONLY");
    const other = await teamKey(w, "INFERENCE_ONLY");
    const stolen = (await app.ok(hijacker.key, rotate, { id: key.apiKey.id })).rotateApiKey.secret;
    // A second key: the hijacker rotates it, then an admin rotates it again with a grace period (the hijacker's secret lives on as the previous one).
    const graced = (await app.ok(hijacker.key, rotate, { id: other.apiKey.id })).rotateApiKey.secret;
    await app.ok(w.org.admin.key, rotate, { id: other.apiKey.id, g: 3600 });
    expect(await alive(stolen)).toBe(true);
    expect(await alive(graced)).toBe(true);
    expect((await invoke(w, stolen)).status).toBe(200);

    expect((await app.ok(await oidcToken(hijacker.email), whoami)).viewer.principal.id).toBe(hijacker.userId);
    for (const secret of [stolen, graced]) {
      expect(await alive(secret)).toBe(false);
      expect((await invoke(w, secret)).status).toBe(401);
    }
    expect((await keyRow(key.apiKey.id)).revoked_at).toBeInstanceOf(Date);
  });
});

describe("K3: a previous secret in its grace period mints no credential", () => {
  let w: World;
  let stale: string;
  let fresh: string;
  beforeAll(async () => {
    w = await world("Grace Corp");
    const own = (await app.ok(w.org.admin.key, createKey, { i: { name: "to rotate" } })).createApiKey;
    stale = own.secret;
    fresh = (await app.ok(stale, rotate, { id: own.apiKey.id, g: 3600 })).rotateApiKey.secret;
  });

  it("it still authenticates, but rotateApiKey, createApiKey, createServiceAccount, inviteMember and acceptInvitation are FORBIDDEN to it; the new secret may", async () => {
    expect(await alive(stale)).toBe(true);
    const ownKeyId = (await app.orgraph.deps.db.selectFrom("api_keys").select("id").where("secret_hash", "=", hashSecret(fresh)).executeTakeFirstOrThrow()).id;
    const invitation = await app.ok(w.org.admin.key, `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "grace-${Date.now()}@example.test", role: MEMBER }) { token } }`, { o: w.org.orgId });
    const calls: [string, string, Record<string, unknown>][] = [
      ["rotateApiKey", rotate, { id: ownKeyId, g: 0 }],
      ["rotateApiKey (a nonexistent key)", rotate, { id: GHOST_KEY }],
      ["createApiKey", createKey, { i: { name: "spare" } }],
      ["createApiKey (team)", createKey, { i: { name: "spare", teamId: w.team, type: "FULL_ACCESS" } }],
      ["createServiceAccount", `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "grace-bot", role: VIEWER) { secret } }`, { t: w.team }],
      ["inviteMember", `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "more@example.test", role: ADMIN }) { token } }`, { o: w.org.orgId }],
      ["acceptInvitation", `mutation($t: String!) { acceptInvitation(token: $t) { secret } }`, { t: invitation.inviteMember.token }],
    ];
    for (const [label, query, variables] of calls) {
      const result = await app.gql(stale, query, variables);
      expect({ label, codes: codes(result) }).toEqual({ label, codes: ["FORBIDDEN"] });
      expect(result.errors![0]!.message).toContain("grace period");
    }
    // The owner is not locked out: the new secret still works, and mints.
    expect(await alive(fresh)).toBe(true);
    expect((await app.ok(fresh, createKey, { i: { name: "spare" } })).createApiKey.secret).toBeTruthy();
    expect((await app.ok(fresh, rotate, { id: ownKeyId, g: 60 })).rotateApiKey.secret).toBeTruthy();
  });

  it("the list above is every mutation that returns a secret or token", async () => {
    const schema = await app.ok(w.org.admin.key, getIntrospectionQuery());
    const types = new Map<string, any>(schema.__schema.types.map((t: any) => [t.name, t]));
    const named = (type: any): string => (type.ofType ? named(type.ofType) : type.name);
    const minting = types
      .get("Mutation")
      .fields.filter((f: any) => (types.get(named(f.type))?.fields ?? []).some((x: any) => x.name === "secret" || x.name === "token"))
      .map((f: any) => f.name)
      .sort();
    expect(minting).toEqual(["acceptInvitation", "createApiKey", "createServiceAccount", "inviteMember", "rotateApiKey"]);
  });
});

describe("K5, K7 and the policy at rotation", () => {
  let w: World;
  beforeAll(async () => {
    w = await world("Audit Corp");
  });

  it("K5: the rotation answers its secret even when the flush of SpiceDB writes fails; state stays consistent", async () => {
    const key = await teamKey(w, "INFERENCE_ONLY");
    faults.write_ = "before";
    try {
      // A change whose relationships stay queued (its flush fails), so the rotation's flush fails too.
      expect(codes(await app.gql(w.org.admin.key, createKey, { i: { name: "queued", teamId: w.team, type: "METRICS_ONLY" } }))).toEqual(["AUTHZ_UNAVAILABLE"]);
      const rotated = await app.gql(w.org.admin.key, rotate, { id: key.apiKey.id });
      expect(rotated.errors).toBeUndefined();
      const secret = rotated.data!.rotateApiKey.secret as string;
      expect((await keyRow(key.apiKey.id)).secret_hash).toBe(hashSecret(secret));
      faults.heal();
      await app.orgraph.deps.outbox.flush();
      expect((await invoke(w, secret)).status).toBe(200);
      expect((await invoke(w, key.secret)).status).toBe(401);
    } finally {
      faults.heal();
    }
  });

  it("K7: the audit event records the rotation with expiresAt before and after, and never a secret", async () => {
    // Made before the policy: it has no expiry, and the rotation gives it the cap.
    const key = await teamKey(w, "INFERENCE_ONLY");
    await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: 10, r: false });
    try {
      const rotated = (await app.ok(w.org.admin.key, rotate, { id: key.apiKey.id, g: 30 })).rotateApiKey;
      const event = await app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("action", "=", "api_key.rotate").where("target_id", "=", key.apiKey.id).executeTakeFirstOrThrow();
      expect(event.org_id).toBe(w.org.orgId);
      expect(event.result).toBe("SUCCESS");
      const diff = event.diff as any;
      expect(diff.expiresAt.before).toBeNull();
      expect(new Date(diff.expiresAt.after).getTime()).toBe(new Date(rotated.apiKey.expiresAt).getTime());
      expect(diff.graceSeconds).toBe(30);
      const text = JSON.stringify(event);
      for (const secret of [key.secret, rotated.secret]) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(hashSecret(secret));
      }
    } finally {
      await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: null, r: false });
    }
  });

  it("under a lifetime cap a rotation caps the key's expiry (a key without one included) and keeps one within it; requireExpiry without a cap refuses a key without expiry", async () => {
    const unbounded = await teamKey(w, "INFERENCE_ONLY");
    const short = await teamKey(w, "INFERENCE_ONLY", { expiresAt: new Date(Date.now() + 2 * DAY).toISOString() });
    const long = await teamKey(w, "INFERENCE_ONLY", { expiresAt: new Date(Date.now() + 300 * DAY).toISOString() });
    await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: 7, r: false });
    try {
      const days = (iso: string) => (new Date(iso).getTime() - Date.now()) / DAY;
      for (const key of [unbounded, long]) {
        const expiresAt = (await app.ok(w.org.admin.key, rotate, { id: key.apiKey.id })).rotateApiKey.apiKey.expiresAt;
        expect(days(expiresAt)).toBeGreaterThan(6.9);
        expect(days(expiresAt)).toBeLessThanOrEqual(7);
      }
      expect((await app.ok(w.org.admin.key, rotate, { id: short.apiKey.id })).rotateApiKey.apiKey.expiresAt).toBe(short.apiKey.expiresAt);

      await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: null, r: false });
      const noExpiry = await teamKey(w, "INFERENCE_ONLY");
      await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: null, r: true });
      const refused = await app.gql(w.org.admin.key, rotate, { id: noExpiry.apiKey.id });
      expect(codes(refused)).toEqual(["BAD_USER_INPUT"]);
      expect(refused.errors![0]!.message).toContain("requireExpiry");
      expect(await alive(noExpiry.secret)).toBe(true);
    } finally {
      await app.ok(w.org.admin.key, setPolicy, { o: w.org.orgId, m: null, r: false });
    }
  });
});
