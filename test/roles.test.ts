import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

let app: TestApp;
let org: SeededOrg;
let teamId: string;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Custom");
  await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId });
  await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: teamId });
});
afterAll(() => app?.close());

const createRole = `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id name permissions } }`;
const assign = `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { name } team { id } principal { id } } }`;
const perms = async (key: string) => {
  const result = await app.gql(key, `query($t: ID!) { viewerPermissions(on: $t) }`, { t: teamId });
  return result.errors ? result.errors[0]!.extensions!.code! : [...result.data!.viewerPermissions].sort();
};

async function withRole(name: string, permissions: string[]): Promise<{ roleId: string; user: SeededMember }> {
  const roleId = (await app.ok(org.admin.key, createRole, { o: org.orgId, n: name, p: permissions })).createRole.id;
  const user = await app.seed.member(org, "MEMBER", [], name.toLowerCase());
  await app.ok(org.admin.key, assign, { r: roleId, t: teamId, p: user.userId });
  return { roleId, user };
}

describe("custom roles behave exactly like their permission sets", () => {
  it("Deployer: team:view, models:invoke, resources:write", async () => {
    const { user } = await withRole("Deployer", ["team:view", "models:invoke", "resources:write"]);
    expect(await perms(user.key)).toEqual(["models:invoke", "resources:write", "team:view"]);
    const deployed = await app.ok(user.key, `mutation($t: ID!) { deployModel(input: { teamId: $t, modelName: "llama", environment: "prod" }) { version } }`, { t: teamId });
    expect(deployed.deployModel.version).toBe(1);
    expect(codes(await app.gql(user.key, `query($t: ID!) { team(id: $t) { secrets { name } } }`, { t: teamId }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(user.key, `query($t: ID!) { team(id: $t) { auditLog { edges { cursor } } } }`, { t: teamId }))).toEqual(["FORBIDDEN"]);
    expect((await authorize(app, user.key, { action: "model:invoke", team: teamId, model: "llama", environment: "prod" })).status).toBe(200);
  });

  it("Auditor: team:view, audit:read, results:export", async () => {
    const { user } = await withRole("Auditor", ["team:view", "audit:read", "results:export"]);
    expect(await perms(user.key)).toEqual(["audit:read", "results:export", "team:view"]);
    const log = await app.ok(user.key, `query($t: ID!) { team(id: $t) { auditLog(first: 5) { edges { node { action } } } } }`, { t: teamId });
    expect(log.team.auditLog.edges.length).toBeGreaterThan(0);
    expect(codes(await app.gql(user.key, `mutation($t: ID!) { createModel(teamId: $t, name: "nope") { id } }`, { t: teamId }))).toEqual(["FORBIDDEN"]);
    expect((await authorize(app, user.key, { action: "model:invoke", team: teamId, model: "llama", environment: "prod" })).status).toBe(403);
  });

  it("only models:invoke: calls the team's models through /v1/authorize, sees nothing of the team through GraphQL", async () => {
    const { user } = await withRole("Invoker", ["models:invoke"]);
    expect((await authorize(app, user.key, { action: "model:invoke", team: teamId, model: "llama", environment: "prod" })).status).toBe(200);
    expect(await perms(user.key)).toBe("NOT_FOUND");
    expect(codes(await app.gql(user.key, `query($t: ID!) { team(id: $t) { name } }`, { t: teamId }))).toEqual(["NOT_FOUND"]);
    expect((await app.ok(user.key, `{ viewer { teams { id } } }`)).viewer.teams).toEqual([]);
  });
});

describe("changes take effect on the very next request", () => {
  it("updating a role changes every assignment; unassigning and deleting revoke", async () => {
    const { roleId, user } = await withRole("Shifting", ["team:view"]);
    const second = await app.seed.member(org, "MEMBER", [], "second");
    await app.ok(org.admin.key, assign, { r: roleId, t: teamId, p: second.userId });
    expect(await perms(user.key)).toEqual(["team:view"]);

    await app.ok(org.admin.key, `mutation($r: ID!) { updateRole(id: $r, permissions: ["team:view", "secrets:read_names"]) { permissions } }`, { r: roleId });
    expect(await perms(user.key)).toEqual(["secrets:read_names", "team:view"]);
    expect(await perms(second.key)).toEqual(["secrets:read_names", "team:view"]);

    await app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { unassignRole(roleId: $r, teamId: $t, principalId: $p) }`, { r: roleId, t: teamId, p: user.userId });
    expect(await perms(user.key)).toBe("NOT_FOUND");
    expect(await perms(second.key)).toEqual(["secrets:read_names", "team:view"]);

    await app.ok(org.admin.key, `mutation($r: ID!) { deleteRole(id: $r) }`, { r: roleId });
    expect(await perms(second.key)).toBe("NOT_FOUND");
    expect(await app.orgraph.deps.db.selectFrom("role_assignments").selectAll().where("role_id", "=", roleId).execute()).toEqual([]);
  });

  it("a custom role adds to a built-in role, and removal from the organization removes it", async () => {
    const roleId = (await app.ok(org.admin.key, createRole, { o: org.orgId, n: "Secret keeper", p: ["secrets:manage"] })).createRole.id;
    const viewer = await app.seed.member(org, "MEMBER", [{ teamId, role: "VIEWER" }], "keeper");
    await app.ok(org.admin.key, assign, { r: roleId, t: teamId, p: viewer.userId });
    expect(await perms(viewer.key)).toContain("secrets:manage");
    expect(await perms(viewer.key)).toContain("team:view");
    await app.ok(org.admin.key, `mutation($o: ID!, $u: ID!) { removeMember(organizationId: $o, userId: $u) }`, { o: org.orgId, u: viewer.userId });
    expect(await perms(viewer.key)).toBe("NOT_FOUND");
  });
});

describe("managing roles", () => {
  it("only org ADMINs (roles:manage) create, see and assign roles", async () => {
    const lead = await app.seed.member(org, "MEMBER", [{ teamId, role: "ADMIN" }], "lead");
    expect(codes(await app.gql(lead.key, createRole, { o: org.orgId, n: "Nope", p: ["team:view"] }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(lead.key, `query($o: ID!) { organization(id: $o) { roles { id } } }`, { o: org.orgId }))).toEqual(["FORBIDDEN"]);
    const roleId = (await app.ok(org.admin.key, createRole, { o: org.orgId, n: "Listed", p: ["metrics:read"] })).createRole.id;
    // Roles are visible to roles:manage holders only: to anyone else a role is as if it did not exist.
    expect(codes(await app.gql(lead.key, assign, { r: roleId, t: teamId, p: lead.userId }))).toEqual(["NOT_FOUND"]);
    await app.ok(org.admin.key, assign, { r: roleId, t: teamId, p: lead.userId });
    const roles = await app.ok(org.admin.key, `query($o: ID!) { organization(id: $o) { roles { name permissions assignments { team { id } principal { id } } } } }`, { o: org.orgId });
    expect(roles.organization.roles.find((r: any) => r.name === "Listed")).toEqual({
      name: "Listed",
      permissions: ["metrics:read"],
      assignments: [{ team: { id: teamId }, principal: { id: lead.userId } }],
    });
  });

  it("unknown permission names, duplicates and foreign teams are refused", async () => {
    expect(codes(await app.gql(org.admin.key, createRole, { o: org.orgId, n: "Bad", p: ["models:deploy_everything"] }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await app.gql(org.admin.key, createRole, { o: org.orgId, n: "Org perm", p: ["org:manage"] }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await app.gql(org.admin.key, createRole, { o: org.orgId, n: "Empty", p: [] }))).toEqual(["BAD_USER_INPUT"]);
    await app.ok(org.admin.key, createRole, { o: org.orgId, n: "Twice", p: ["team:view"] });
    expect(codes(await app.gql(org.admin.key, createRole, { o: org.orgId, n: "Twice", p: ["team:view"] }))).toEqual(["CONFLICT"]);
    const other = await app.seed.org("Other");
    const roleId = (await app.ok(org.admin.key, createRole, { o: org.orgId, n: "Scoped", p: ["team:view"] })).createRole.id;
    expect(codes(await app.gql(org.admin.key, assign, { r: roleId, t: other.defaultTeamId, p: org.admin.userId }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("service accounts can hold custom roles", async () => {
    const sa = (await app.ok(org.admin.key, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "bot", role: VIEWER) { secret serviceAccount { id } } }`, { t: teamId })).createServiceAccount;
    const roleId = (await app.ok(org.admin.key, createRole, { o: org.orgId, n: "Bot invoker", p: ["models:invoke"] })).createRole.id;
    expect((await authorize(app, sa.secret, { action: "model:invoke", model: "llama", environment: "prod" })).status).toBe(403);
    await app.ok(org.admin.key, assign, { r: roleId, t: teamId, p: sa.serviceAccount.id });
    expect((await authorize(app, sa.secret, { action: "model:invoke", model: "llama", environment: "prod" })).status).toBe(200);
  });
});

describe("a role answers as nonexistent to whoever may not manage its organization's roles", () => {
  it("updateRole, assignRole, deleteRole and node: the same answer for another organization's role and for none", async () => {
    const stranger = await app.seed.org("Elsewhere");
    const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "ADMIN" }], "team-admin");
    const roleId = (await app.ok(org.admin.key, createRole, { o: org.orgId, n: "Hidden", p: ["team:view"] })).createRole.id as string;
    const none = roleId.slice(0, -16) + "0123456789abcdef";
    const calls = [
      (id: string) => [`mutation($r: ID!) { updateRole(id: $r, permissions: ["team:view"]) { id } }`, { r: id }] as const,
      (id: string) => [`mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: id, t: teamId, p: member.userId }] as const,
      (id: string) => [`mutation($r: ID!) { deleteRole(id: $r) }`, { r: id }] as const,
      (id: string) => [`query($r: ID!) { node(id: $r) { id } }`, { r: id }] as const,
    ];
    for (const key of [stranger.admin.key, member.key]) {
      for (const call of calls) {
        const [query, variables] = call(roleId);
        const [, noneVariables] = call(none);
        const seen = await app.gql(key, query, variables);
        expect(codes(seen)).toEqual(["NOT_FOUND"]);
        expect(seen).toEqual(await app.gql(key, query, noneVariables));
      }
    }
  });
});

describe("deployModel without teamId names only teams the caller may browse", () => {
  it("a role holding resources:write without team:view on two teams learns neither team's name", async () => {
    const second = await app.seed.team(org, "Secret Project Falcon");
    const roleId = (await app.ok(org.admin.key, createRole, { o: org.orgId, n: "BlindWriter", p: ["resources:write"] })).createRole.id;
    const writer = await app.seed.member(org, "MEMBER", [], "blind");
    for (const t of [teamId, second]) await app.ok(org.admin.key, assign, { r: roleId, t, p: writer.userId });
    const response = await app.gql(writer.key, `mutation { deployModel(input: { modelName: "fresh", environment: "prod" }) { id } }`);
    expect(codes(response)).toEqual(["BAD_USER_INPUT"]);
    expect(response.errors![0]!.message).toBe('Several teams could hold "fresh"; pass teamId');
  });
});
