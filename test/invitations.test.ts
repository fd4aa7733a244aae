import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Invitations as an attacker uses them (issue 11, holes 1 and 3): an invitation is a way into
 * one organization for one email, never a way into an existing account, and it dies with its
 * inviter's authority, its revocation, its expiry or its first use.
 */
let app: TestApp;
let victimOrg: SeededOrg;
let attackerOrg: SeededOrg;
let privateKey: CryptoKey;
const issuer = "https://idp.example.test/";
const audience = "orgraph";

const invite = `mutation($o: ID!, $e: String!, $r: OrgRole!, $teams: [TeamRoleInput!]) {
  inviteMember(input: { organizationId: $o, email: $e, role: $r, teams: $teams }) { token invitation { id status expiresAt } } }`;
const accept = `mutation($t: String!) { acceptInvitation(token: $t) { user { id email } secret organization { id } } }`;
const revoke = `mutation($i: ID!) { revokeInvitation(id: $i) { id status } }`;
const whoAmI = `{ viewer { user { id } organizations { id } } }`;

const oidcToken = (email: string, emailVerified: boolean | undefined) =>
  new SignJWT({ email, ...(emailVerified === undefined ? {} : { email_verified: emailVerified }) })
    .setProtectedHeader({ alg: "RS256" })
    .setSubject(`idp-${email}`)
    .setIssuer(issuer)
    .setAudience(audience)
    .setExpirationTime("5m")
    .sign(privateKey);

async function inviteAs(org: SeededOrg, email: string, role = "MEMBER", key = org.admin.key) {
  const data = await app.ok(key, invite, { o: org.orgId, e: email, r: role, teams: [] });
  return data.inviteMember as { token: string; invitation: { id: string; status: string; expiresAt: string } };
}

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  privateKey = pair.privateKey as CryptoKey;
  app = await startTestApp({
    env: {
      JWT_ISSUER: issuer,
      JWT_AUDIENCE: audience,
      JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey),
      INVITATION_LIFETIME_HOURS: "48",
      RATE_LIMIT_MUTATIONS_PER_MINUTE: "100000",
    },
  });
  victimOrg = await app.seed.org("Victim Corp");
  attackerOrg = await app.seed.org("Attacker Inc");
});
afterAll(() => app?.close());

describe("account takeover through invitations (hole 1)", () => {
  it("a stranger's invitation for an existing account's email cannot be accepted signed out, and yields no key", async () => {
    const victim = await app.seed.member(victimOrg, "ADMIN", null, "victim");
    const { token } = await inviteAs(attackerOrg, victim.email);
    const response = await app.gql(undefined, accept, { t: token });
    expect(codes(response)).toEqual(["UNAUTHENTICATED"]);
    expect(response.data?.acceptInvitation ?? null).toBeNull();
    // The invitation is still pending for the real owner, who may sign in and decline by ignoring it.
    const listed = await app.ok(attackerOrg.admin.key, `query($o: ID!) { organization(id: $o) { invitations { email status } } }`, { o: attackerOrg.orgId });
    expect(listed.organization.invitations).toContainEqual({ email: victim.email, status: "PENDING" });
  });

  it("signed in as the invited account, accepting joins and returns a new key of the caller only", async () => {
    const member = await app.seed.member(victimOrg, "MEMBER", [], "joiner");
    const { token } = await inviteAs(attackerOrg, member.email);
    const data = await app.ok(member.key, accept, { t: token });
    expect(data.acceptInvitation.user.id).toBe(member.userId);
    const me = await app.ok(data.acceptInvitation.secret, whoAmI);
    expect(me.viewer.user.id).toBe(member.userId);
    expect(me.viewer.organizations.map((o: { id: string }) => o.id).sort()).toEqual([victimOrg.orgId, attackerOrg.orgId].sort());
  });

  it("signed in as anyone else — another user, a team key — accepting is FORBIDDEN", async () => {
    const other = await app.seed.member(attackerOrg, "MEMBER", [], "other");
    const { token } = await inviteAs(attackerOrg, "someone-else@example.test");
    expect(codes(await app.gql(other.key, accept, { t: token }))).toEqual(["FORBIDDEN"]);
    const teamKey = (await app.ok(attackerOrg.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "k", teamId: $t, type: FULL_ACCESS }) { secret } }`, { t: attackerOrg.defaultTeamId })).createApiKey.secret;
    expect(codes(await app.gql(teamKey, accept, { t: token }))).toEqual(["FORBIDDEN"]);
    // Still usable by its real addressee.
    expect((await app.ok(undefined, accept, { t: token })).acceptInvitation.user.email).toBe("someone-else@example.test");
  });

  it("pre-hijacking: the key minted by a signed-out acceptance dies at the owner's first verified sign-in", async () => {
    const email = "future-owner@corp.test";
    const { token } = await inviteAs(attackerOrg, email);
    const hijacked = (await app.ok(undefined, accept, { t: token })).acceptInvitation;
    // The account is unverified: the hijacker's key works until then, and it makes itself a second one.
    const second = (await app.ok(hijacked.secret, `mutation { createApiKey(input: { name: "spare" }) { secret } }`)).createApiKey.secret;
    expect((await app.ok(second, whoAmI)).viewer.user.id).toBe(hijacked.user.id);
    // … and, acting as the account, founds an organization and invites an accomplice as ADMIN.
    const founded = (await app.ok(hijacked.secret, `mutation { createOrganization(name: "Front") { id } }`)).createOrganization.id;
    const planted = (await app.ok(hijacked.secret, invite, { o: founded, e: "accomplice@evil.test", r: "ADMIN", teams: [] })).inviteMember;

    // A token that says the email is unverified is refused; one that does not say signs in
    // without verifying. Neither revokes anything.
    expect(codes(await app.gql(await oidcToken(email, false), whoAmI))).toEqual(["UNAUTHENTICATED"]);
    expect((await app.ok(await oidcToken(email, undefined), whoAmI)).viewer.user.id).toBe(hijacked.user.id);
    expect((await app.gql(second, whoAmI)).errors).toBeUndefined();

    // The owner's first verified sign-in: same account, and every earlier credential is refused.
    expect((await app.ok(await oidcToken(email, true), whoAmI)).viewer.user.id).toBe(hijacked.user.id);
    for (const key of [hijacked.secret, second]) expect(codes(await app.gql(key, whoAmI))).toEqual(["UNAUTHENTICATED"]);
    const account = await app.orgraph.deps.db.selectFrom("users").select("verified_at").where("id", "=", hijacked.user.id).executeTakeFirst();
    expect(account!.verified_at).toBeInstanceOf(Date);
    // Invitations the hijacker sent as that account die too.
    expect(codes(await app.gql(undefined, accept, { t: planted.token }))).toEqual(["BAD_USER_INPUT"]);
    // Keys made after verification live on.
    const fresh = (await app.ok(await oidcToken(email, true), `mutation { createApiKey(input: { name: "after" }) { secret } }`)).createApiKey.secret;
    expect((await app.ok(fresh, whoAmI)).viewer.user.id).toBe(hijacked.user.id);
  });
});

describe("invitation lifecycle (hole 3)", () => {
  it("expires after INVITATION_LIFETIME_HOURS, is single use, and is listed with its status", async () => {
    const sent = await inviteAs(victimOrg, "lifetime@example.test");
    const hours = (new Date(sent.invitation.expiresAt).getTime() - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(47.9);
    expect(hours).toBeLessThanOrEqual(48);

    await app.ok(undefined, accept, { t: sent.token });
    expect(codes(await app.gql(undefined, accept, { t: sent.token }))).toEqual(["BAD_USER_INPUT"]);

    const stale = await inviteAs(victimOrg, "stale@example.test");
    await app.orgraph.deps.db.updateTable("invitations").set({ expires_at: new Date(Date.now() - 1000) }).where("id", "=", stale.invitation.id).execute();
    expect(codes(await app.gql(undefined, accept, { t: stale.token }))).toEqual(["BAD_USER_INPUT"]);

    const listed = await app.ok(victimOrg.admin.key, `query($o: ID!) { organization(id: $o) { invitations { id status } } }`, { o: victimOrg.orgId });
    const status = new Map(listed.organization.invitations.map((i: { id: string; status: string }) => [i.id, i.status]));
    expect(status.get(sent.invitation.id)).toBe("ACCEPTED");
    expect(status.get(stale.invitation.id)).toBe("EXPIRED");
  });

  it("org ADMINs revoke; the token is refused afterwards", async () => {
    const sent = await inviteAs(victimOrg, "revoked@example.test");
    expect((await app.ok(victimOrg.admin.key, revoke, { i: sent.invitation.id })).revokeInvitation.status).toBe("REVOKED");
    expect(codes(await app.gql(undefined, accept, { t: sent.token }))).toEqual(["BAD_USER_INPUT"]);
    // Revoking again changes nothing; an accepted one cannot be revoked.
    expect((await app.ok(victimOrg.admin.key, revoke, { i: sent.invitation.id })).revokeInvitation.status).toBe("REVOKED");
    const used = await inviteAs(victimOrg, "used@example.test");
    await app.ok(undefined, accept, { t: used.token });
    expect(codes(await app.gql(victimOrg.admin.key, revoke, { i: used.invitation.id }))).toEqual(["CONFLICT"]);
  });

  it("nobody else can revoke or see an invitation: members, billing admins, other orgs — same answer as a nonexistent one", async () => {
    const sent = await inviteAs(victimOrg, "kept@example.test");
    const member = await app.seed.member(victimOrg, "MEMBER", null, "plain");
    const billing = await app.seed.member(victimOrg, "BILLING_ADMIN", [], "billing");
    const nonexistent = sent.invitation.id.slice(0, -16) + "0123456789abcdef";
    const answer = (key: string | undefined, id: string) => app.gql(key, revoke, { i: id });
    const expected = await answer(attackerOrg.admin.key, nonexistent);
    expect(codes(expected)).toEqual(["NOT_FOUND"]);
    for (const key of [member.key, billing.key, attackerOrg.admin.key]) {
      expect(await answer(key, sent.invitation.id)).toEqual(expected);
      expect(await app.gql(key, `query($i: ID!) { node(id: $i) { id } }`, { i: sent.invitation.id })).toEqual(
        await app.gql(key, `query($i: ID!) { node(id: $i) { id } }`, { i: nonexistent }),
      );
    }
    expect(codes(await answer(undefined, sent.invitation.id))).toEqual(["UNAUTHENTICATED"]);
    // Still pending and acceptable.
    expect((await app.ok(undefined, accept, { t: sent.token })).acceptInvitation.user.email).toBe("kept@example.test");
  });

  it("an invitation is void once its inviter is no longer an org ADMIN (demoted or removed)", async () => {
    const inviter = await app.seed.member(victimOrg, "ADMIN", [], "inviter");
    const demotedInvite = await inviteAs(victimOrg, "via-demoted@example.test", "ADMIN", inviter.key);
    const removedInvite = await inviteAs(victimOrg, "via-removed@example.test", "ADMIN", inviter.key);
    await app.ok(victimOrg.admin.key, `mutation($o: ID!, $u: ID!) { setOrgRole(organizationId: $o, userId: $u, role: MEMBER) { role } }`, { o: victimOrg.orgId, u: inviter.userId });
    expect(codes(await app.gql(undefined, accept, { t: demotedInvite.token }))).toEqual(["BAD_USER_INPUT"]);
    await app.ok(victimOrg.admin.key, `mutation($o: ID!, $u: ID!) { removeMember(organizationId: $o, userId: $u) }`, { o: victimOrg.orgId, u: inviter.userId });
    expect(codes(await app.gql(undefined, accept, { t: removedInvite.token }))).toEqual(["BAD_USER_INPUT"]);
    const listed = await app.ok(victimOrg.admin.key, `query($o: ID!) { organization(id: $o) { invitations { id status } } }`, { o: victimOrg.orgId });
    const status = new Map(listed.organization.invitations.map((i: { id: string; status: string }) => [i.id, i.status]));
    expect([status.get(demotedInvite.invitation.id), status.get(removedInvite.invitation.id)]).toEqual(["VOID", "VOID"]);
  });

  it("of two simultaneous signed-out acceptances one wins; the loser's failure names no account that was never created", async () => {
    const sent = await inviteAs(victimOrg, "race@example.test");
    const start = new Date();
    const [a, b] = await Promise.all([app.gql(undefined, accept, { t: sent.token }), app.gql(undefined, accept, { t: sent.token })]);
    const winners = [a, b].filter((r) => !r.errors);
    expect(winners).toHaveLength(1);
    const { db } = app.orgraph.deps;
    const failures = [
      ...(await db.selectFrom("audit_events").select("actor_id").where("action", "=", "member.accept_invitation").where("result", "!=", "SUCCESS").where("at", ">=", start).execute()),
      ...(await db.selectFrom("security_events").select("actor_id").where("action", "=", "member.accept_invitation").where("result", "!=", "SUCCESS").where("at", ">=", start).execute()),
    ];
    expect(failures.length).toBeGreaterThan(0);
    const users = new Set((await db.selectFrom("users").select("id").execute()).map((u) => u.id));
    for (const { actor_id } of failures) expect({ actor_id, known: actor_id === null || users.has(actor_id) }).toEqual({ actor_id, known: true });
  });
});
