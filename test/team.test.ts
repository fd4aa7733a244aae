import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

type Role = "ORG_ADMIN" | "ADMIN" | "MEMBER" | "OPERATOR" | "VIEWER";

let app: TestApp;
let org: SeededOrg;
let teamId: string;
const keys = {} as Record<Role | "OUTSIDER" | "BILLING_ADMIN", string>;
const users = {} as Record<string, SeededMember>;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Inference");
  keys.ORG_ADMIN = org.admin.key;
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const) {
    users[role] = await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase());
    keys[role] = users[role]!.key;
  }
  keys.OUTSIDER = (await app.seed.member(org, "MEMBER", [], "outsider")).key;
  keys.BILLING_ADMIN = (await app.seed.member(org, "BILLING_ADMIN", [], "billing")).key;
});
afterAll(() => app?.close());

// PRODUCT.md §4 as permission names (contract.graphql), written out independently of the
// implementation's catalog. An org ADMIN is implicitly team ADMIN.
const TEAM_MATRIX: Record<string, Role[]> = {
  "team:view": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
  "audit:read": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
  "metrics:read": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
  "models:invoke": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR"],
  "chains:run": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR"],
  "results:export": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR"],
  "resources:write": ["ORG_ADMIN", "ADMIN", "MEMBER"],
  "secrets:read_names": ["ORG_ADMIN", "ADMIN", "MEMBER"],
  "resources:delete": ["ORG_ADMIN", "ADMIN"],
  "secrets:manage": ["ORG_ADMIN", "ADMIN"],
  "team:manage_members": ["ORG_ADMIN", "ADMIN"],
  "team:manage_environments": ["ORG_ADMIN", "ADMIN"],
  "team:manage_keys": ["ORG_ADMIN", "ADMIN"],
};
const ROLES: Role[] = ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"];

describe("team permission matrix (viewerPermissions)", () => {
  const cases = Object.entries(TEAM_MATRIX).flatMap(([permission, holders]) =>
    ROLES.map((role) => ({ permission, role, allowed: holders.includes(role) })),
  );

  it.each(cases)("$role holds $permission: $allowed", async ({ permission, role, allowed }) => {
    const data = await app.ok(keys[role], `query($on: ID!) { viewerPermissions(on: $on) }`, { on: teamId });
    expect(data.viewerPermissions.includes(permission)).toBe(allowed);
  });

  it("the team's permission list holds exactly the contract's team names", async () => {
    const data = await app.ok(keys.ORG_ADMIN, `query($on: ID!) { viewerPermissions(on: $on) }`, { on: teamId });
    expect([...data.viewerPermissions].sort()).toEqual(Object.keys(TEAM_MATRIX).sort());
  });

  it("an org MEMBER outside the team cannot see it at all (NOT_FOUND)", async () => {
    for (const query of [
      `query($id: ID!) { viewerPermissions(on: $id) }`,
      `query($id: ID!) { team(id: $id) { name } }`,
      `query($id: ID!) { node(id: $id) { id } }`,
    ]) {
      expect(codes(await app.gql(keys.OUTSIDER, query, { id: teamId }))).toEqual(["NOT_FOUND"]);
    }
  });

  it("a BILLING_ADMIN reaches a team's name (for usage reports) and nothing in it", async () => {
    expect((await app.ok(keys.BILLING_ADMIN, `query($id: ID!) { team(id: $id) { name } }`, { id: teamId })).team.name).toBeTruthy();
    expect((await app.ok(keys.BILLING_ADMIN, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: teamId })).viewerPermissions).toEqual([]);
    for (const field of ["members { edges { cursor } }", "secrets { name }"]) {
      expect(codes(await app.gql(keys.BILLING_ADMIN, `query($id: ID!) { team(id: $id) { ${field} } }`, { id: teamId }))).toEqual(["FORBIDDEN"]);
    }
    const lists = await app.ok(keys.BILLING_ADMIN, `query($id: ID!) { team(id: $id) { models { edges { cursor } } environments { id } } }`, { id: teamId });
    expect(lists.team).toEqual({ models: { edges: [] }, environments: [] });
    expect((await app.ok(keys.BILLING_ADMIN, `{ viewer { teams { id } } }`)).viewer.teams).toEqual([]);
  });

  it("the permission catalog lists the built-in roles of each team permission", async () => {
    const data = await app.ok(keys.VIEWER, `{ permissionCatalog { name builtInRoles } }`);
    const byName = new Map(data.permissionCatalog.map((p: any) => [p.name, p.builtInRoles]));
    for (const [permission, holders] of Object.entries(TEAM_MATRIX)) {
      expect(byName.get(permission)).toEqual(holders.filter((r) => r !== "ORG_ADMIN"));
    }
    expect(byName.get("org:manage")).toEqual([]);
  });
});

describe("team reads", () => {
  it("viewerRole is the effective built-in role, ADMIN for org admins", async () => {
    const query = `query($id: ID!) { team(id: $id) { viewerRole } }`;
    for (const role of ROLES) {
      const data = await app.ok(keys[role], query, { id: teamId });
      expect(data.team.viewerRole).toBe(role === "ORG_ADMIN" ? "ADMIN" : role);
    }
  });

  it("every role lists the members; an outsider cannot", async () => {
    const query = `query($id: ID!) { team(id: $id) { members(first: 10) { edges { node { role principal { id kind displayName } } } } } }`;
    const data = await app.ok(keys.VIEWER, query, { id: teamId });
    const roles = data.team.members.edges.map((e: any) => e.node.role).sort();
    expect(roles).toEqual(["ADMIN", "MEMBER", "OPERATOR", "VIEWER"]);
    expect(data.team.members.edges[0].node.principal.kind).toBe("USER");
    expect(codes(await app.gql(keys.OUTSIDER, query, { id: teamId }))).toEqual(["NOT_FOUND"]);
  });

  it("members pages forward with cursors", async () => {
    const query = `query($id: ID!, $after: String) { team(id: $id) { members(first: 3, after: $after) { edges { cursor node { role } } pageInfo { hasNextPage endCursor } } } }`;
    const first = await app.ok(keys.ADMIN, query, { id: teamId });
    expect(first.team.members.edges).toHaveLength(3);
    expect(first.team.members.pageInfo.hasNextPage).toBe(true);
    const second = await app.ok(keys.ADMIN, query, { id: teamId, after: first.team.members.pageInfo.endCursor });
    expect(second.team.members.edges).toHaveLength(1);
    expect(second.team.members.pageInfo.hasNextPage).toBe(false);
  });
});

describe("team mutations by role", () => {
  const addMember = `mutation($team: ID!, $user: ID!, $role: TeamRole!) { addTeamMember(teamId: $team, principalId: $user, role: $role) { role principal { id } } }`;
  const setRole = `mutation($team: ID!, $user: ID!, $role: TeamRole!) { setTeamRole(teamId: $team, principalId: $user, role: $role) { role } }`;
  const removeMember = `mutation($team: ID!, $user: ID!) { removeTeamMember(teamId: $team, principalId: $user) }`;
  const rename = `mutation($id: ID!, $name: String!) { renameTeam(id: $id, name: $name) { name } }`;

  it.each(["MEMBER", "OPERATOR", "VIEWER"] as const)("a team %s cannot manage members or rename the team (FORBIDDEN)", async (role) => {
    const newcomer = await app.seed.member(org, "MEMBER", [], `newcomer-${role}`);
    expect(codes(await app.gql(keys[role], addMember, { team: teamId, user: newcomer.userId, role: "VIEWER" }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(keys[role], setRole, { team: teamId, user: users.VIEWER!.userId, role: "ADMIN" }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(keys[role], removeMember, { team: teamId, user: users.VIEWER!.userId }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(keys[role], rename, { id: teamId, name: "Hijacked" }))).toEqual(["FORBIDDEN"]);
  });

  it.each(["ADMIN", "ORG_ADMIN"] as const)("a team %s adds, re-roles and removes a member, each effective at once", async (role) => {
    const newcomer = await app.seed.member(org, "MEMBER", [], `joiner-${role}`);
    const permissions = async () => (await app.gql(newcomer.key, `query($on: ID!) { viewerPermissions(on: $on) }`, { on: teamId }));

    expect(codes(await permissions())).toEqual(["NOT_FOUND"]);
    const added = await app.ok(keys[role], addMember, { team: teamId, user: newcomer.userId, role: "VIEWER" });
    expect(added.addTeamMember).toEqual({ role: "VIEWER", principal: { id: newcomer.userId } });
    expect((await permissions()).data?.viewerPermissions).not.toContain("resources:write");

    await app.ok(keys[role], setRole, { team: teamId, user: newcomer.userId, role: "MEMBER" });
    expect((await permissions()).data?.viewerPermissions).toContain("resources:write");

    expect((await app.ok(keys[role], removeMember, { team: teamId, user: newcomer.userId })).removeTeamMember).toBe(true);
    expect(codes(await permissions())).toEqual(["NOT_FOUND"]);
  });

  it("a team ADMIN renames the team, the default team included", async () => {
    expect((await app.ok(keys.ADMIN, rename, { id: teamId, name: "Inference Platform" })).renameTeam.name).toBe("Inference Platform");
    expect((await app.ok(keys.ORG_ADMIN, rename, { id: org.defaultTeamId, name: "Everyone" })).renameTeam.name).toBe("Everyone");
  });

  it("adding someone twice is a CONFLICT; re-roling a non-member is NOT_FOUND", async () => {
    expect(codes(await app.gql(keys.ADMIN, addMember, { team: teamId, user: users.VIEWER!.userId, role: "VIEWER" }))).toEqual(["CONFLICT"]);
    const stranger = await app.seed.member(org, "MEMBER", [], "stranger");
    expect(codes(await app.gql(keys.ADMIN, setRole, { team: teamId, user: stranger.userId, role: "ADMIN" }))).toEqual(["NOT_FOUND"]);
    expect(codes(await app.gql(keys.ADMIN, removeMember, { team: teamId, user: stranger.userId }))).toEqual(["NOT_FOUND"]);
  });

  it("a user of another organization cannot be added (BAD_USER_INPUT)", async () => {
    const other = await app.seed.org("Elsewhere");
    expect(codes(await app.gql(keys.ADMIN, addMember, { team: teamId, user: other.admin.userId, role: "VIEWER" }))).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("viewer.teams", () => {
  it("lists exactly the teams each caller can view", async () => {
    const query = `{ viewer { teams { id } } }`;
    const ids = async (key: string) => (await app.ok(key, query)).viewer.teams.map((t: any) => t.id).sort();
    expect(await ids(keys.VIEWER)).toEqual([teamId]);
    expect(await ids(keys.OUTSIDER)).toEqual([]);
    expect(await ids(keys.ORG_ADMIN)).toEqual(expect.arrayContaining([teamId, org.defaultTeamId]));
  });
});
