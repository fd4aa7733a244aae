import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

let app: TestApp;
let org: SeededOrg;
let teamA: string;
let teamB: string;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  teamA = await app.seed.team(org, "A");
  teamB = await app.seed.team(org, "B");
});
afterAll(() => app?.close());

const invite = `mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token invitation { id email role status } } }`;
const accept = `mutation($token: String!) { acceptInvitation(token: $token) { user { id email } organization { id } apiKey { keyKind prefix } secret } }`;
const myTeams = `{ viewer { user { email } organizations { id viewerRole } teams { id } } }`;

async function inviteAndAccept(email: string, role: string, teams?: { teamId: string; role: string }[] | null) {
  const invited = await app.ok(org.admin.key, invite, { input: { organizationId: org.orgId, email, role, ...(teams !== undefined ? { teams } : {}) } });
  return (await app.ok(undefined, accept, { token: invited.inviteMember.token })).acceptInvitation;
}

describe("invitations", () => {
  it("invite with an org role and team roles → accept → the new key works → exactly those teams", async () => {
    const accepted = await inviteAndAccept("Ada@Example.test", "MEMBER", [
      { teamId: teamA, role: "OPERATOR" },
      { teamId: teamB, role: "VIEWER" },
    ]);
    expect(accepted.user.email).toBe("ada@example.test");
    expect(accepted.apiKey.keyKind).toBe("PERSONAL");
    expect(accepted.secret.startsWith(accepted.apiKey.prefix)).toBe(true);

    const me = await app.ok(accepted.secret, myTeams);
    expect(me.viewer.user.email).toBe("ada@example.test");
    expect(me.viewer.organizations).toEqual([{ id: org.orgId, viewerRole: "MEMBER" }]);
    expect(me.viewer.teams.map((t: any) => t.id).sort()).toEqual([teamA, teamB].sort());
    const roles = await app.ok(accepted.secret, `query($a: ID!, $b: ID!) { a: team(id: $a) { viewerRole } b: team(id: $b) { viewerRole } }`, {
      a: teamA,
      b: teamB,
    });
    expect(roles).toEqual({ a: { viewerRole: "OPERATOR" }, b: { viewerRole: "VIEWER" } });
  });

  it("with teams omitted the member joins the default team as MEMBER", async () => {
    const accepted = await inviteAndAccept("grace@example.test", "MEMBER");
    const me = await app.ok(accepted.secret, myTeams);
    expect(me.viewer.teams.map((t: any) => t.id)).toEqual([org.defaultTeamId]);
    const team = await app.ok(accepted.secret, `query($id: ID!) { team(id: $id) { viewerRole } }`, { id: org.defaultTeamId });
    expect(team.team.viewerRole).toBe("MEMBER");
  });

  it("with an empty list the member joins no team", async () => {
    const accepted = await inviteAndAccept("linus@example.test", "MEMBER", []);
    expect((await app.ok(accepted.secret, myTeams)).viewer.teams).toEqual([]);
  });

  it("an invited ADMIN sees every team without joining any", async () => {
    const accepted = await inviteAndAccept("root@example.test", "ADMIN", []);
    const ids = (await app.ok(accepted.secret, myTeams)).viewer.teams.map((t: any) => t.id);
    expect(ids).toEqual(expect.arrayContaining([org.defaultTeamId, teamA, teamB]));
  });

  it("is single use", async () => {
    const invited = await app.ok(org.admin.key, invite, { input: { organizationId: org.orgId, email: "once@example.test", role: "MEMBER" } });
    await app.ok(undefined, accept, { token: invited.inviteMember.token });
    expect(codes(await app.gql(undefined, accept, { token: invited.inviteMember.token }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("expires", async () => {
    const invited = await app.ok(org.admin.key, invite, { input: { organizationId: org.orgId, email: "late@example.test", role: "MEMBER" } });
    await app.orgraph.deps.db
      .updateTable("invitations")
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where("id", "=", invited.inviteMember.invitation.id)
      .execute();
    expect(codes(await app.gql(undefined, accept, { token: invited.inviteMember.token }))).toEqual(["BAD_USER_INPUT"]);
    const listed = await app.ok(org.admin.key, `query($id: ID!) { node(id: $id) { ... on Invitation { status } } }`, {
      id: invited.inviteMember.invitation.id,
    });
    expect(listed.node.status).toBe("EXPIRED");
  });

  it("refuses forged and malformed tokens", async () => {
    for (const token of ["", "ogi_", "ogi_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not a token", "x".repeat(10_000)]) {
      expect(codes(await app.gql(undefined, accept, { token }))).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("cannot be accepted by a signed-in user of another email", async () => {
    const invited = await app.ok(org.admin.key, invite, { input: { organizationId: org.orgId, email: "meant@example.test", role: "MEMBER" } });
    expect(codes(await app.gql(org.admin.key, accept, { token: invited.inviteMember.token }))).toEqual(["FORBIDDEN"]);
  });

  it("refuses inviting an existing member (CONFLICT) and teams of another organization (BAD_USER_INPUT)", async () => {
    expect(codes(await app.gql(org.admin.key, invite, { input: { organizationId: org.orgId, email: org.admin.email, role: "MEMBER" } }))).toEqual([
      "CONFLICT",
    ]);
    const other = await app.seed.org("Other");
    const result = await app.gql(org.admin.key, invite, {
      input: { organizationId: org.orgId, email: "x@example.test", role: "MEMBER", teams: [{ teamId: other.defaultTeamId, role: "ADMIN" }] },
    });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
  });

  it("one person can belong to several organizations with one account", async () => {
    const other = await app.seed.org("Second");
    const member = await app.seed.member(org, "MEMBER", [], "multi");
    const invited = await app.ok(other.admin.key, invite, { input: { organizationId: other.orgId, email: member.email, role: "BILLING_ADMIN" } });
    // Signed in as themselves, accepting is allowed and lands on the same user.
    const accepted = await app.ok(member.key, accept, { token: invited.inviteMember.token });
    expect(accepted.acceptInvitation.user.id).toBe(member.userId);
    const orgs = (await app.ok(member.key, myTeams)).viewer.organizations;
    expect(orgs).toHaveLength(2);
  });
});

describe("removing a member", () => {
  it("cascades through every team and grant of the organization, and nothing else", async () => {
    const other = await app.seed.org("Unrelated");
    const person = await app.seed.member(org, "MEMBER", [
      { teamId: teamA, role: "ADMIN" },
      { teamId: teamB, role: "MEMBER" },
    ], "leaver");
    // The same person in another organization keeps that membership.
    const invited = await app.ok(other.admin.key, invite, { input: { organizationId: other.orgId, email: person.email, role: "MEMBER" } });
    await app.ok(person.key, accept, { token: invited.inviteMember.token });

    expect((await app.ok(person.key, myTeams)).viewer.teams).toHaveLength(3);
    const removed = await app.ok(org.admin.key, `mutation($org: ID!, $user: ID!) { removeMember(organizationId: $org, userId: $user) }`, {
      org: org.orgId,
      user: person.userId,
    });
    expect(removed.removeMember).toBe(true);

    // The very next request: nothing of the organization is visible, the other one is intact.
    const after = await app.ok(person.key, myTeams);
    expect(after.viewer.organizations.map((o: any) => o.id)).toEqual([other.orgId]);
    expect(after.viewer.teams.map((t: any) => t.id)).toEqual([other.defaultTeamId]);
    for (const id of [org.orgId, teamA, teamB]) {
      expect(codes(await app.gql(person.key, `query($id: ID!) { viewerPermissions(on: $id) }`, { id }))).toEqual(["NOT_FOUND"]);
    }
    const members = await app.ok(org.admin.key, `query($id: ID!) { team(id: $id) { members { edges { node { principal { id } } } } } }`, { id: teamA });
    expect(members.team.members.edges.map((e: any) => e.node.principal.id)).not.toContain(person.userId);
    // The durable record holds nothing of them in this organization either.
    const left = await app.orgraph.deps.db
      .selectFrom("authz_relationships")
      .select("resource_id")
      .where("org_id", "=", org.orgId)
      .where("subject_id", "=", person.userId)
      .execute();
    expect(left).toEqual([]);
  });

  it("removing someone from one team leaves their other teams intact", async () => {
    const person = await app.seed.member(org, "MEMBER", [
      { teamId: teamA, role: "MEMBER" },
      { teamId: teamB, role: "MEMBER" },
    ], "mover");
    await app.ok(org.admin.key, `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`, { t: teamA, u: person.userId });
    expect((await app.ok(person.key, myTeams)).viewer.teams.map((t: any) => t.id)).toEqual([teamB]);
  });

  it("a removed user's personal key is useless in that organization at once", async () => {
    const person = await app.seed.member(org, "ADMIN", [], "former-admin");
    expect((await app.ok(person.key, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: org.orgId })).viewerPermissions).toContain("org:manage");
    await app.ok(org.admin.key, `mutation($org: ID!, $user: ID!) { removeMember(organizationId: $org, userId: $user) }`, { org: org.orgId, user: person.userId });
    expect(codes(await app.gql(person.key, `mutation($id: ID!) { renameOrganization(id: $id, name: "Mine") { id } }`, { id: org.orgId }))).toEqual([
      "NOT_FOUND",
    ]);
  });
});

describe("protections", () => {
  it("the last ADMIN can be neither removed nor demoted (CONFLICT); with a second ADMIN both work", async () => {
    const solo = await app.seed.org("Solo");
    const remove = `mutation($org: ID!, $user: ID!) { removeMember(organizationId: $org, userId: $user) }`;
    const demote = `mutation($org: ID!, $user: ID!) { setOrgRole(organizationId: $org, userId: $user, role: MEMBER) { role } }`;
    expect(codes(await app.gql(solo.admin.key, remove, { org: solo.orgId, user: solo.admin.userId }))).toEqual(["CONFLICT"]);
    expect(codes(await app.gql(solo.admin.key, demote, { org: solo.orgId, user: solo.admin.userId }))).toEqual(["CONFLICT"]);

    const second = await app.seed.member(solo, "ADMIN", [], "second-admin");
    expect((await app.ok(solo.admin.key, demote, { org: solo.orgId, user: solo.admin.userId })).setOrgRole.role).toBe("MEMBER");
    // Now `second` is the last ADMIN.
    expect(codes(await app.gql(second.key, remove, { org: solo.orgId, user: second.userId }))).toEqual(["CONFLICT"]);
    expect((await app.ok(second.key, remove, { org: solo.orgId, user: solo.admin.userId })).removeMember).toBe(true);
  });

  it("the default team can be renamed but never deleted", async () => {
    const result = await app.gql(org.admin.key, `mutation($id: ID!) { deleteTeam(id: $id) }`, { id: org.defaultTeamId });
    expect(codes(result)).toEqual(["CONFLICT"]);
    expect((await app.ok(org.admin.key, `query($id: ID!) { team(id: $id) { isDefault } }`, { id: org.defaultTeamId })).team.isDefault).toBe(true);
  });

  it("deleting a team removes its memberships and every relationship recorded under it", async () => {
    const doomed = await app.seed.team(org, "Doomed");
    const person = await app.seed.member(org, "MEMBER", [{ teamId: doomed, role: "ADMIN" }], "doomed-admin");
    await app.ok(org.admin.key, `mutation($id: ID!) { deleteTeam(id: $id) }`, { id: doomed });
    expect((await app.ok(person.key, myTeams)).viewer.teams).toEqual([]);
    expect(codes(await app.gql(org.admin.key, `query($id: ID!) { team(id: $id) { id } }`, { id: doomed }))).toEqual(["NOT_FOUND"]);
    const left = await app.orgraph.deps.db.selectFrom("authz_relationships").select("relation").where("team_id", "=", doomed).execute();
    expect(left).toEqual([]);
  });
});
