import { getIntrospectionQuery } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../src/auth/secrets.js";
import { newId } from "../src/ids.js";
import { codes, type TestApp } from "./helpers/app.js";
import { alive, createKey, customRoleHolder, DAY, faults, GHOST_KEY, invoke, keyRow, oidcToken, rotate, serviceAccount, setPolicy, teamKey, whoami, world, type World, useKeyLifecycleApp } from "./helpers/key-lifecycle.js";

/**
 * Issue 16 §3, the red team's findings on rotateApiKey as attacks (each failed on the naive
 * version): C1 a rotation yields no secret more powerful than its caller; C2 revoking the keys
 * a user minted reaches the keys they rotated; K3 a previous secret in its grace period mints
 * no credential; K5 the payload survives a failing SpiceDB flush; K7 audited with expiresAt
 * before and after, never a secret; and the key policy at rotation (capped or refused).
 */
let app: TestApp;
useKeyLifecycleApp((started) => (app = started));

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

const revoke = `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`;

describe("K3: a previous secret in its grace period mints no credential (nor revokes its key)", () => {
  let w: World;
  let stale: string;
  let fresh: string;
  beforeAll(async () => {
    w = await world("Grace Corp");
    const own = (await app.ok(w.org.admin.key, createKey, { i: { name: "to rotate" } })).createApiKey;
    stale = own.secret;
    fresh = (await app.ok(stale, rotate, { id: own.apiKey.id, g: 3600 })).rotateApiKey.secret;
  });

  it("it still authenticates, but rotateApiKey, revokeApiKey, createApiKey, createServiceAccount, inviteMember, acceptInvitation, setSsoConnection, setSsoGroupMapping, deleteSsoGroupMapping and approveAccessRequest are FORBIDDEN to it; the new secret may", async () => {
    expect(await alive(stale)).toBe(true);
    const ownKeyId = (await app.orgraph.deps.db.selectFrom("api_keys").select("id").where("secret_hash", "=", hashSecret(fresh)).executeTakeFirstOrThrow()).id;
    const invitation = await app.ok(w.org.admin.key, `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "grace-${Date.now()}@example.test", role: MEMBER }) { token } }`, { o: w.org.orgId });
    const calls: [string, string, Record<string, unknown>][] = [
      ["rotateApiKey", rotate, { id: ownKeyId, g: 0 }],
      ["rotateApiKey (a nonexistent key)", rotate, { id: GHOST_KEY }],
      // Revoking the key would end the owner's new secret too (a leaked previous secret must not lock them out).
      ["revokeApiKey", revoke, { id: ownKeyId }],
      ["revokeApiKey (a nonexistent key)", revoke, { id: GHOST_KEY }],
      ["createApiKey", createKey, { i: { name: "spare" } }],
      ["createApiKey (team)", createKey, { i: { name: "spare", teamId: w.team, type: "FULL_ACCESS" } }],
      ["createServiceAccount", `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "grace-bot", role: VIEWER) { secret } }`, { t: w.team }],
      ["inviteMember", `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "more@example.test", role: ADMIN }) { token } }`, { o: w.org.orgId }],
      ["acceptInvitation", `mutation($t: String!) { acceptInvitation(token: $t) { secret } }`, { t: invitation.inviteMember.token }],
      // An IdP connection or mapping mints accounts with the mappings' roles; an approval grants access.
      ["setSsoConnection", `mutation($o: ID!) { setSsoConnection(organizationId: $o, issuer: "https://idp.grace.test/", audience: "x", jwksUrl: "https://idp.grace.test/jwks") { id } }`, { o: w.org.orgId }],
      ["setSsoGroupMapping", `mutation($o: ID!) { setSsoGroupMapping(organizationId: $o, group: "g", orgRole: ADMIN) { group } }`, { o: w.org.orgId }],
      ["deleteSsoGroupMapping", `mutation($o: ID!) { deleteSsoGroupMapping(organizationId: $o, group: "g") }`, { o: w.org.orgId }],
      ["approveAccessRequest (a nonexistent request)", `mutation { approveAccessRequest(id: "${newId("AccessRequest")}") { id } }`, {}],
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

  it("the list above is every mutation that returns a secret or token, with revokeApiKey besides", async () => {
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
