import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

let app: TestApp;
let org: SeededOrg;
let billing: SeededMember;
let member: SeededMember;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  billing = await app.seed.member(org, "BILLING_ADMIN");
  member = await app.seed.member(org, "MEMBER");
});
afterAll(() => app?.close());

// PRODUCT.md §3, written out independently of the implementation's catalog.
const ORG_MATRIX: Record<string, { ADMIN: boolean; BILLING_ADMIN: boolean; MEMBER: boolean }> = {
  "org:view": { ADMIN: true, BILLING_ADMIN: true, MEMBER: true },
  "org:manage": { ADMIN: true, BILLING_ADMIN: false, MEMBER: false },
  "org:manage_members": { ADMIN: true, BILLING_ADMIN: false, MEMBER: false },
  "org:manage_teams": { ADMIN: true, BILLING_ADMIN: false, MEMBER: false },
  "org:view_all_teams": { ADMIN: true, BILLING_ADMIN: false, MEMBER: false },
  "billing:view": { ADMIN: true, BILLING_ADMIN: true, MEMBER: false },
  "billing:manage": { ADMIN: true, BILLING_ADMIN: true, MEMBER: false },
  "roles:manage": { ADMIN: true, BILLING_ADMIN: false, MEMBER: false },
  "audit:read_all": { ADMIN: true, BILLING_ADMIN: false, MEMBER: false },
};

const keyOf = (role: "ADMIN" | "BILLING_ADMIN" | "MEMBER") =>
  role === "ADMIN" ? org.admin.key : role === "BILLING_ADMIN" ? billing.key : member.key;

describe("organization permission matrix (viewerPermissions)", () => {
  const cases = Object.entries(ORG_MATRIX).flatMap(([permission, roles]) =>
    (["ADMIN", "BILLING_ADMIN", "MEMBER"] as const).map((role) => ({ permission, role, allowed: roles[role] })),
  );

  it.each(cases)("$role holds $permission: $allowed", async ({ permission, role, allowed }) => {
    const data = await app.ok(keyOf(role), `query($on: ID!) { viewerPermissions(on: $on) }`, { on: org.orgId });
    expect(data.viewerPermissions.includes(permission)).toBe(allowed);
  });

  it("lists nothing beyond the organization catalog", async () => {
    const data = await app.ok(org.admin.key, `query($on: ID!) { viewerPermissions(on: $on) }`, { on: org.orgId });
    expect([...data.viewerPermissions].sort()).toEqual(Object.keys(ORG_MATRIX).sort());
  });
});

describe("organization mutations by role", () => {
  it("only an ADMIN renames the organization", async () => {
    for (const role of ["BILLING_ADMIN", "MEMBER"] as const) {
      const denied = await app.gql(keyOf(role), `mutation($id: ID!) { renameOrganization(id: $id, name: "Nope") { name } }`, { id: org.orgId });
      expect(codes(denied)).toEqual(["FORBIDDEN"]);
    }
    const allowed = await app.ok(org.admin.key, `mutation($id: ID!) { renameOrganization(id: $id, name: "Acme Two") { name } }`, { id: org.orgId });
    expect(allowed.renameOrganization.name).toBe("Acme Two");
  });

  it("only an ADMIN invites members", async () => {
    const input = (email: string) => ({ organizationId: org.orgId, email, role: "MEMBER" });
    for (const role of ["BILLING_ADMIN", "MEMBER"] as const) {
      const denied = await app.gql(keyOf(role), `mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }`, {
        input: input(`x-${role}@example.test`),
      });
      expect(codes(denied)).toEqual(["FORBIDDEN"]);
    }
    const allowed = await app.ok(org.admin.key, `mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token invitation { email status } } }`, {
      input: input("new@example.test"),
    });
    expect(allowed.inviteMember.invitation).toEqual({ email: "new@example.test", status: "PENDING" });
  });

  it("only an ADMIN creates and deletes teams", async () => {
    for (const role of ["BILLING_ADMIN", "MEMBER"] as const) {
      const denied = await app.gql(keyOf(role), `mutation($org: ID!) { createTeam(organizationId: $org, name: "T-${role}") { id } }`, { org: org.orgId });
      expect(codes(denied)).toEqual(["FORBIDDEN"]);
    }
    const teamId = await app.seed.team(org, "Disposable");
    // A MEMBER cannot see a team they are not in: its existence is not revealed. A
    // BILLING_ADMIN sees team names (usage reports), so is refused.
    const deleteTeam = `mutation($id: ID!) { deleteTeam(id: $id) }`;
    expect(codes(await app.gql(keyOf("MEMBER"), deleteTeam, { id: teamId }))).toEqual(["NOT_FOUND"]);
    expect(codes(await app.gql(keyOf("BILLING_ADMIN"), deleteTeam, { id: teamId }))).toEqual(["FORBIDDEN"]);
    expect((await app.ok(org.admin.key, `mutation($id: ID!) { deleteTeam(id: $id) }`, { id: teamId })).deleteTeam).toBe(true);
  });

  it("a team ADMIN who is an org MEMBER still cannot delete the team", async () => {
    const teamId = await app.seed.team(org, "Kept");
    const lead = await app.seed.member(org, "MEMBER", [{ teamId, role: "ADMIN" }], "lead");
    const denied = await app.gql(lead.key, `mutation($id: ID!) { deleteTeam(id: $id) }`, { id: teamId });
    expect(codes(denied)).toEqual(["FORBIDDEN"]);
  });

  it("only an ADMIN changes org roles and removes members", async () => {
    const target = await app.seed.member(org, "MEMBER", [], "target");
    for (const role of ["BILLING_ADMIN", "MEMBER"] as const) {
      const setRole = await app.gql(keyOf(role), `mutation($org: ID!, $user: ID!) { setOrgRole(organizationId: $org, userId: $user, role: ADMIN) { role } }`, {
        org: org.orgId,
        user: target.userId,
      });
      expect(codes(setRole)).toEqual(["FORBIDDEN"]);
      const remove = await app.gql(keyOf(role), `mutation($org: ID!, $user: ID!) { removeMember(organizationId: $org, userId: $user) }`, {
        org: org.orgId,
        user: target.userId,
      });
      expect(codes(remove)).toEqual(["FORBIDDEN"]);
    }
    const promoted = await app.ok(org.admin.key, `mutation($org: ID!, $user: ID!) { setOrgRole(organizationId: $org, userId: $user, role: BILLING_ADMIN) { role } }`, {
      org: org.orgId,
      user: target.userId,
    });
    expect(promoted.setOrgRole.role).toBe("BILLING_ADMIN");
    const perms = await app.ok(target.key, `query($on: ID!) { viewerPermissions(on: $on) }`, { on: org.orgId });
    expect(perms.viewerPermissions).toContain("billing:view");
  });
});

describe("organization reads by role", () => {
  it("members see only their own membership; ADMINs see everyone", async () => {
    const query = `query($id: ID!) { organization(id: $id) { members(first: 100) { edges { node { role user { id } } } } } }`;
    const asMember = await app.ok(member.key, query, { id: org.orgId });
    expect(asMember.organization.members.edges.map((e: any) => e.node.user.id)).toEqual([member.userId]);
    const asAdmin = await app.ok(org.admin.key, query, { id: org.orgId });
    const ids = asAdmin.organization.members.edges.map((e: any) => e.node.user.id);
    expect(ids).toEqual(expect.arrayContaining([org.admin.userId, billing.userId, member.userId]));
  });

  it("invitations are FORBIDDEN to non-admins", async () => {
    const query = `query($id: ID!) { organization(id: $id) { invitations { email } } }`;
    expect(codes(await app.gql(member.key, query, { id: org.orgId }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(billing.key, query, { id: org.orgId }))).toEqual(["FORBIDDEN"]);
    expect((await app.ok(org.admin.key, query, { id: org.orgId })).organization.invitations.length).toBeGreaterThan(0);
  });

  it("viewerRole tells each caller their org role", async () => {
    const query = `query($id: ID!) { organization(id: $id) { viewerRole } }`;
    expect((await app.ok(org.admin.key, query, { id: org.orgId })).organization.viewerRole).toBe("ADMIN");
    expect((await app.ok(billing.key, query, { id: org.orgId })).organization.viewerRole).toBe("BILLING_ADMIN");
    expect((await app.ok(member.key, query, { id: org.orgId })).organization.viewerRole).toBe("MEMBER");
  });

  it("another organization and its teams are NOT_FOUND, through every entry point", async () => {
    const other = await app.seed.org("Other");
    for (const query of [
      `query($id: ID!) { organization(id: $id) { name } }`,
      `query($id: ID!) { node(id: $id) { id } }`,
      `query($id: ID!) { viewerPermissions(on: $id) }`,
    ]) {
      expect(codes(await app.gql(org.admin.key, query, { id: other.orgId }))).toEqual(["NOT_FOUND"]);
    }
    for (const query of [
      `query($id: ID!) { team(id: $id) { name } }`,
      `query($id: ID!) { node(id: $id) { id } }`,
      `query($id: ID!) { viewerPermissions(on: $id) }`,
    ]) {
      expect(codes(await app.gql(org.admin.key, query, { id: other.defaultTeamId }))).toEqual(["NOT_FOUND"]);
    }
    const rename = await app.gql(org.admin.key, `mutation($id: ID!) { renameTeam(id: $id, name: "Mine") { id } }`, { id: other.defaultTeamId });
    expect(codes(rename)).toEqual(["NOT_FOUND"]);
  });

  it("an unknown but well-formed id is NOT_FOUND as well", async () => {
    const result = await app.gql(org.admin.key, `{ organization(id: "org_0000000000000000000000000000") { name } }`);
    expect(codes(result)).toEqual(["NOT_FOUND"]);
  });
});
