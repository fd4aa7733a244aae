import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type GraphQLResponse, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * No escalation (PRODUCT.md §10), as a table: every granting mutation × every kind of holder —
 * built-in org and team roles, custom roles holding one delegated power, a team key. A grant
 * succeeds exactly when the caller may perform the operation AND already holds, on that scope,
 * every permission the grant confers. What a caller holds is read from viewerPermissions; what
 * each grant confers is written here from PRODUCT.md §3, §4, §6 and §7.
 */
const ALL_TEAM = [
  "team:view", "audit:read", "metrics:read", "models:invoke", "chains:run", "results:export", "resources:write",
  "secrets:read_names", "resources:delete", "secrets:manage", "team:manage_members", "team:manage_environments", "team:manage_keys",
];
const OPERATOR = ["team:view", "audit:read", "metrics:read", "models:invoke", "chains:run", "results:export"];
/** `team:rename` stands for renaming the team: ADMIN-only and outside the catalog, so only team ADMINs grant ADMIN. */
const TEAM_ROLE: Record<string, string[]> = {
  ADMIN: [...ALL_TEAM, "team:rename"],
  MEMBER: [...OPERATOR, "resources:write", "secrets:read_names"],
  OPERATOR,
  VIEWER: ["team:view", "audit:read", "metrics:read"],
};
const KEY_TYPE: Record<string, string[]> = {
  FULL_ACCESS: [...OPERATOR, "resources:write", "secrets:read_names"],
  INFERENCE_ONLY: ["models:invoke"],
  METRICS_ONLY: ["metrics:read"],
};
const ALL_ORG = ["org:view", "org:manage", "org:manage_members", "org:manage_teams", "org:view_all_teams", "billing:view", "billing:manage", "roles:manage", "audit:read_all"];

let app: TestApp;
let org: SeededOrg;
let teamId: string;
let prodId: string;
let chainId: string;
let allPowersRoleId: string;
let adminServiceAccountId: string;

interface Caller {
  label: string;
  key: string;
  /** Holds the ADMIN-only rename: a built-in team ADMIN or an org ADMIN. */
  teamAdmin: boolean;
  held: Set<string>;
}
const callers: Caller[] = [];

const gqlOk = (key: string, query: string, variables: Record<string, unknown> = {}) => app.ok(key, query, variables);
const permissionsOn = async (key: string, id: string): Promise<string[]> => {
  const response = await app.gql(key, `query($id: ID!) { viewerPermissions(on: $id) }`, { id });
  return response.errors ? [] : (response.data!.viewerPermissions as string[]);
};

/** A new org MEMBER in no team: the target of one grant. */
async function freshUser(label = "target"): Promise<string> {
  return (await app.seed.member(org, "MEMBER", [], label)).userId;
}
async function freshTeamMember(role: string): Promise<string> {
  const userId = await freshUser();
  await gqlOk(org.admin.key, `mutation($t: ID!, $p: ID!, $r: TeamRole!) { addTeamMember(teamId: $t, principalId: $p, role: $r) { role } }`, { t: teamId, p: userId, r: role });
  return userId;
}

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org("Escalation");
  teamId = await app.seed.team(org, "Platform");
  prodId = (await gqlOk(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod", restricted: true) { id } }`, { t: teamId })).createEnvironment.id;
  await gqlOk(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "dev") { id } }`, { t: teamId });
  chainId = (await gqlOk(org.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "triage") { id } }`, { t: teamId })).createChain.id;
  const createRole = `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id } }`;
  allPowersRoleId = (await gqlOk(org.admin.key, createRole, { o: org.orgId, n: "AllPowers", p: ALL_TEAM })).createRole.id;
  adminServiceAccountId = (await gqlOk(org.admin.key, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "deployer", role: ADMIN) { serviceAccount { id } } }`, { t: teamId })).createServiceAccount.serviceAccount.id;

  const add = async (label: string, key: string, teamAdmin = false) => {
    const held = new Set([...(await permissionsOn(key, teamId)), ...(await permissionsOn(key, org.orgId)), ...(await permissionsOn(key, prodId)), ...(await permissionsOn(key, chainId))]);
    if (teamAdmin) held.add("team:rename");
    callers.push({ label, key, teamAdmin, held });
  };
  await add("org ADMIN", org.admin.key, true);
  await add("BILLING_ADMIN", (await app.seed.member(org, "BILLING_ADMIN", [], "billing")).key);
  await add("org MEMBER in no team", (await app.seed.member(org, "MEMBER", [], "plain")).key);
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"]) {
    await add(`team ${role}`, (await app.seed.member(org, "MEMBER", [{ teamId, role: role as "ADMIN" }], role.toLowerCase())).key, role === "ADMIN");
  }
  const custom: Record<string, string[]> = {
    "custom: manage_members": ["team:view", "team:manage_members"],
    "custom: manage_members + operator powers": [...OPERATOR, "team:manage_members"],
    "custom: manage_keys": ["team:view", "metrics:read", "team:manage_keys"],
    "custom: manage_environments": ["team:view", "team:manage_environments"],
    "custom: manage_environments + resources:write": ["team:view", "team:manage_environments", "resources:write"],
  };
  for (const [label, permissions] of Object.entries(custom)) {
    const roleId = (await gqlOk(org.admin.key, createRole, { o: org.orgId, n: label.replace(/[^a-z]+/gi, "-"), p: permissions })).createRole.id;
    const user = await app.seed.member(org, "MEMBER", [{ teamId, role: "VIEWER" }], "custom");
    // Keep only what the custom role adds on top of VIEWER visible in `held` by reading it after assignment.
    await gqlOk(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: roleId, t: teamId, p: user.userId });
    await add(label, user.key);
  }
  await add("FULL_ACCESS team key", (await gqlOk(org.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "full", teamId: $t, type: FULL_ACCESS }) { secret } }`, { t: teamId })).createApiKey.secret);
});
afterAll(() => app?.close());

interface Grant {
  name: string;
  /** What the caller must hold: the operation's own permission and everything the grant confers. */
  needs: string[];
  run(key: string): Promise<GraphQLResponse>;
}

const teamRoleGrants: Grant[] = ["ADMIN", "MEMBER", "VIEWER"].flatMap((role): Grant[] => [
  {
    name: `addTeamMember as ${role}`,
    needs: ["team:manage_members", ...TEAM_ROLE[role]!],
    run: async (key) => app.gql(key, `mutation($t: ID!, $p: ID!, $r: TeamRole!) { addTeamMember(teamId: $t, principalId: $p, role: $r) { role } }`, { t: teamId, p: await freshUser(), r: role }),
  },
  {
    name: `createServiceAccount as ${role}`,
    needs: ["team:manage_keys", ...TEAM_ROLE[role]!],
    run: (key) => app.gql(key, `mutation($t: ID!, $r: TeamRole!) { createServiceAccount(teamId: $t, name: "sa-${Math.random().toString(36).slice(2)}", role: $r) { secret } }`, { t: teamId, r: role }),
  },
]);

const grants: Grant[] = [
  ...teamRoleGrants,
  {
    name: "setTeamRole VIEWER → ADMIN",
    needs: ["team:manage_members", ...TEAM_ROLE.ADMIN!],
    run: async (key) => app.gql(key, `mutation($t: ID!, $p: ID!) { setTeamRole(teamId: $t, principalId: $p, role: ADMIN) { role } }`, { t: teamId, p: await freshTeamMember("VIEWER") }),
  },
  {
    name: "setTeamRole ADMIN → VIEWER (demoting someone more powerful)",
    needs: ["team:manage_members", ...TEAM_ROLE.ADMIN!],
    run: async (key) => app.gql(key, `mutation($t: ID!, $p: ID!) { setTeamRole(teamId: $t, principalId: $p, role: VIEWER) { role } }`, { t: teamId, p: await freshTeamMember("ADMIN") }),
  },
  {
    name: "removeTeamMember of an ADMIN",
    needs: ["team:manage_members", ...TEAM_ROLE.ADMIN!],
    run: async (key) => app.gql(key, `mutation($t: ID!, $p: ID!) { removeTeamMember(teamId: $t, principalId: $p) }`, { t: teamId, p: await freshTeamMember("ADMIN") }),
  },
  ...Object.entries(KEY_TYPE).map(([type, confers]): Grant => ({
    name: `createApiKey ${type}`,
    needs: ["team:manage_keys", ...confers],
    run: (key) => app.gql(key, `mutation($t: ID!, $y: ApiKeyType!) { createApiKey(input: { name: "k", teamId: $t, type: $y }) { secret } }`, { t: teamId, y: type }),
  })),
  {
    name: "createApiKey for an ADMIN service account",
    needs: ["team:manage_keys", ...TEAM_ROLE.ADMIN!],
    run: (key) => app.gql(key, `mutation($s: ID!) { createApiKey(input: { name: "k", serviceAccountId: $s }) { secret } }`, { s: adminServiceAccountId }),
  },
  {
    name: "grantEnvironmentAccess on a restricted environment",
    needs: ["environment:manage_access", "resources:write"],
    run: async (key) => app.gql(key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: prodId, p: await freshUser() }),
  },
  {
    name: "setEnvironmentRestricted(false): every team writer may then deploy there",
    needs: ["environment:manage_access", "resources:write"],
    run: async (key) => {
      const created = await gqlOk(org.admin.key, `mutation($t: ID!, $n: String!) { createEnvironment(teamId: $t, name: $n, restricted: true) { id } }`, { t: teamId, n: `r-${Math.random().toString(36).slice(2, 10)}` });
      return app.gql(key, `mutation($e: ID!) { setEnvironmentRestricted(id: $e, restricted: false) { restricted } }`, { e: created.createEnvironment.id });
    },
  },
  ...Object.entries({ VIEWER: ["chain:view"], RUNNER: ["chain:view", "chain:run"], EDITOR: ["chain:view", "chain:run", "chain:edit"] }).map(
    ([access, confers]): Grant => ({
      name: `shareChain as ${access}`,
      needs: ["team:manage_members", ...confers],
      run: async (key) => app.gql(key, `mutation($c: ID!, $u: ID!, $a: ChainAccess!) { shareChain(chainId: $c, userId: $u, access: $a) { id } }`, { c: chainId, u: await freshUser(), a: access }),
    }),
  ),
  {
    name: "assignRole of a role holding every team permission",
    needs: ["roles:manage", ...ALL_TEAM],
    run: async (key) => app.gql(key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: allPowersRoleId, t: teamId, p: await freshUser() }),
  },
  {
    name: "inviteMember as org ADMIN",
    needs: ["org:manage_members", ...ALL_ORG],
    run: (key) => app.gql(key, `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "x-${Math.random().toString(36).slice(2)}@example.test", role: ADMIN, teams: [] }) { invitation { id } } }`, { o: org.orgId }),
  },
  {
    name: "setOrgRole to ADMIN",
    needs: ["org:manage_members", ...ALL_ORG],
    run: async (key) => app.gql(key, `mutation($o: ID!, $u: ID!) { setOrgRole(organizationId: $o, userId: $u, role: ADMIN) { role } }`, { o: org.orgId, u: await freshUser() }),
  },
];

describe("no escalation: every granting mutation × every holder", () => {
  it.each(grants.map((g) => [g.name, g] as const))("%s succeeds exactly for holders of the operation and of everything it confers", async (_name, grant) => {
    const outcomes: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const caller of callers) {
      const response = await grant.run(caller.key);
      const code = codes(response)[0];
      outcomes[caller.label] = code === undefined ? "allowed" : code === "FORBIDDEN" || code === "NOT_FOUND" ? "refused" : `unexpected ${code}`;
      expected[caller.label] = grant.needs.every((p) => caller.held.has(p)) ? "allowed" : "refused";
    }
    expect(outcomes).toEqual(expected);
    // The table must exercise both sides: someone may, someone may not.
    expect(Object.values(expected)).toContain("allowed");
    expect(Object.values(expected)).toContain("refused");
  });
});

describe("the attacks of issue 11, hole 2", () => {
  it("a custom role holding team:manage_members cannot make itself ADMIN", async () => {
    const holder = callers.find((c) => c.label === "custom: manage_members")!;
    const me = (await gqlOk(holder.key, `{ viewer { user { id } } }`)).viewer.user.id;
    const response = await app.gql(holder.key, `mutation($t: ID!, $p: ID!) { setTeamRole(teamId: $t, principalId: $p, role: ADMIN) { role } }`, { t: teamId, p: me });
    expect(codes(response)).toEqual(["FORBIDDEN"]);
    expect(await permissionsOn(holder.key, teamId)).not.toContain("team:manage_keys");
  });

  it("a custom role holding team:manage_keys cannot mint an ADMIN service account's key", async () => {
    const holder = callers.find((c) => c.label === "custom: manage_keys")!;
    const response = await app.gql(holder.key, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "backdoor", role: ADMIN) { secret } }`, { t: teamId });
    expect(codes(response)).toEqual(["FORBIDDEN"]);
    expect(response.data?.createServiceAccount ?? null).toBeNull();
    const accounts = (await gqlOk(org.admin.key, `query($t: ID!) { team(id: $t) { serviceAccounts { name } } }`, { t: teamId })).team.serviceAccounts;
    expect(accounts.map((a: { name: string }) => a.name)).not.toContain("backdoor");
    // What it holds, it may hand out: a METRICS_ONLY key.
    expect((await app.gql(holder.key, `mutation($t: ID!) { createApiKey(input: { name: "m", teamId: $t, type: METRICS_ONLY }) { secret } }`, { t: teamId })).errors).toBeUndefined();
  });

  it("a team ADMIN removes an org ADMIN's membership of the team: the org ADMIN's implicit powers are not what a removal takes away", async () => {
    const teamAdmin = callers.find((c) => c.label === "team ADMIN")!;
    const orgAdmin = await app.seed.member(org, "ADMIN", [{ teamId, role: "MEMBER" }], "org-admin-in-team");
    const response = await app.gql(teamAdmin.key, `mutation($t: ID!, $p: ID!) { removeTeamMember(teamId: $t, principalId: $p) }`, { t: teamId, p: orgAdmin.userId });
    expect(codes(response)).toEqual([]);
    // Still ADMIN of every team, as an org ADMIN.
    expect(await permissionsOn(orgAdmin.key, teamId)).toContain("team:manage_members");
  });
});
