import { describe, expect, it } from "vitest";
import { type TestApp } from "./helpers/app.js";
import { alive, createKey, DAY, invoke, keyRow, oidcToken, rotate, setPolicy, teamKey, whoami, world, useKeyLifecycleApp } from "./helpers/key-lifecycle.js";

/**
 * Issue 16 §3, the second red team's findings as attacks (each failed before its fix):
 * R1 a hijacker keeps no secret through a service account it created (rotation, createApiKey,
 * a service account created by its service account); R2 joining an organization caps the
 * joiner's live personal keys to its key policy. (R3, a grace secret revoking its key, is in
 * key-lifecycle-attacks.test.ts K3.)
 */
let app: TestApp;
useKeyLifecycleApp((started) => (app = started));

const createAccount = `mutation($t: ID!, $n: String!) { createServiceAccount(teamId: $t, name: $n, role: ADMIN) { serviceAccount { id } apiKey { id } secret } }`;
const signIn = async (email: string) => (await app.ok(await oidcToken(email), whoami)).viewer.principal.id as string;

describe("R1: the owner's first verified sign-in revokes what the hijacker minted through its service accounts", () => {
  it("a service account the hijacker created rotates a team key the org admin made: the rotated secret dies with the sign-in", async () => {
    const w = await world("SA Rotation Corp");
    // Seeded members accept signed out: unverified until a verified sign-in.
    const hijacker = await app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "ADMIN" }], "sa-hijacker");
    const account = (await app.ok(hijacker.key, createAccount, { t: w.team, n: "hijack-bot" })).createServiceAccount;
    const key = await teamKey(w, "INFERENCE_ONLY");
    const stolen = (await app.ok(account.secret, rotate, { id: key.apiKey.id })).rotateApiKey.secret as string;
    expect((await keyRow(key.apiKey.id)).rotated_by).toBe(account.serviceAccount.id);
    expect((await invoke(w, stolen)).status).toBe(200);

    expect(await signIn(hijacker.email)).toBe(hijacker.userId);
    expect(await alive(account.secret)).toBe(false);
    expect(await alive(stolen)).toBe(false);
    expect((await invoke(w, stolen)).status).toBe(401);
    expect((await keyRow(key.apiKey.id)).revoked_at).toBeInstanceOf(Date);
  });

  it("keys a hijacker's service account minted (createApiKey for itself) and keys of a service account it created in turn die too; the org admin's keys live", async () => {
    const w = await world("SA Mint Corp");
    const hijacker = await app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "ADMIN" }], "sa-minter");
    const account = (await app.ok(hijacker.key, createAccount, { t: w.team, n: "mint-bot" })).createServiceAccount;
    const own = (await app.ok(account.secret, createKey, { i: { name: "spare", serviceAccountId: account.serviceAccount.id } })).createApiKey;
    expect((await keyRow(own.apiKey.id)).created_by).toBe(account.serviceAccount.id);
    // One level further: the service account creates another, whose key mints a key for it.
    const nested = (await app.ok(account.secret, createAccount, { t: w.team, n: "nested-bot" })).createServiceAccount;
    const deep = (await app.ok(nested.secret, createKey, { i: { name: "deep", serviceAccountId: nested.serviceAccount.id } })).createApiKey;
    expect((await keyRow(deep.apiKey.id)).created_by).toBe(nested.serviceAccount.id);
    const innocent = await teamKey(w, "INFERENCE_ONLY");

    await signIn(hijacker.email);
    for (const secret of [account.secret, own.secret, nested.secret, deep.secret]) expect(await alive(secret)).toBe(false);
    expect(await alive(innocent.secret)).toBe(true);
    expect(await alive(w.org.admin.key)).toBe(true);
  });
});

describe("R2: joining an organization caps the joiner's live personal keys to its key policy", () => {
  const days = (at: Date | null) => (at ? (at.getTime() - Date.now()) / DAY : Infinity);
  const invite = `mutation($o: ID!, $e: String!) { inviteMember(input: { organizationId: $o, email: $e, role: MEMBER }) { token } }`;
  const accept = `mutation($t: String!) { acceptInvitation(token: $t) { apiKey { id } secret } }`;

  async function join(orgAdminKey: string, orgId: string, email: string) {
    const token = (await app.ok(orgAdminKey, invite, { o: orgId, e: email })).inviteMember.token;
    return (await app.ok(await oidcToken(email), accept, { t: token })).acceptInvitation as { apiKey: { id: string }; secret: string };
  }

  it("a forever key of a lax organization's member expires within the strict one's cap once they join it; a shorter one is kept", async () => {
    const lax = await world("Lax Corp");
    const strict = await world("Strict Corp");
    await app.ok(strict.org.admin.key, setPolicy, { o: strict.org.orgId, m: 30, r: true });
    const email = `joiner-${Date.now()}@example.test`;
    await signIn(email);
    const joinedLax = await join(lax.org.admin.key, lax.org.orgId, email);
    const forever = (await app.ok(joinedLax.secret, createKey, { i: { name: "forever" } })).createApiKey;
    const soon = new Date(Date.now() + 2 * DAY).toISOString();
    const short = (await app.ok(joinedLax.secret, createKey, { i: { name: "short", expiresAt: soon } })).createApiKey;
    expect((await keyRow(forever.apiKey.id)).expires_at).toBeNull();

    await join(strict.org.admin.key, strict.org.orgId, email);
    for (const id of [forever.apiKey.id, joinedLax.apiKey.id]) {
      const left = days((await keyRow(id)).expires_at);
      expect(left).toBeGreaterThan(29.9);
      expect(left).toBeLessThanOrEqual(30);
    }
    expect((await keyRow(short.apiKey.id)).expires_at!.toISOString()).toBe(soon);
    expect(await alive(forever.secret)).toBe(true);
    const event = await app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("action", "=", "member.accept_invitation").where("org_id", "=", strict.org.orgId).executeTakeFirstOrThrow();
    expect([...(event.diff as any).cappedKeys].sort()).toEqual([forever.apiKey.id, joinedLax.apiKey.id].sort());
  });

  it("requireExpiry without a cap gives a forever key the default required lifetime (90 days)", async () => {
    const lax = await world("Lax Two Corp");
    const strict = await world("Expiring Corp");
    await app.ok(strict.org.admin.key, setPolicy, { o: strict.org.orgId, m: null, r: true });
    const email = `joiner2-${Date.now()}@example.test`;
    await signIn(email);
    const joinedLax = await join(lax.org.admin.key, lax.org.orgId, email);
    await join(strict.org.admin.key, strict.org.orgId, email);
    const left = days((await keyRow(joinedLax.apiKey.id)).expires_at);
    expect(left).toBeGreaterThan(89.9);
    expect(left).toBeLessThanOrEqual(90);
  });
});
