import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../src/auth/secrets.js";
import { codes, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";
import { alive, createKey, customRoleHolder, DAY, GHOST_KEY, invoke, keyRow, normalized, rotate, serviceAccount, setPolicy, teamKey, whoami, world, type World, useKeyLifecycleApp } from "./helpers/key-lifecycle.js";

/**
 * Issue 16 §3, key lifecycle: the key policy (setKeyPolicy) on every key-minting path, and
 * rotateApiKey: the key's identity kept, the grace period ending exactly at its instant on
 * GraphQL and /v1/authorize (no cache keeps an old secret), one previous secret at most, no
 * grace past the key's expiry (K4), invisible keys answered as nonexistent ones (K6 included).
 * The red team's attacks (C1, C2, K3, K5, K7) are in key-lifecycle-attacks.test.ts.
 */
let app: TestApp;
useKeyLifecycleApp((started) => (app = started));

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
