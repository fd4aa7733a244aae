import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERMISSIONS } from "../src/authz/catalog.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

/**
 * Every name `permissionCatalog` lists is an operation: for each, one caller who holds it
 * (and as little else as the model allows: a custom role with that one team permission, or
 * the narrowest built-in role or key) is allowed, and one who lacks only it is refused.
 * A catalog entry without a row here fails the first test.
 */
let app: TestApp;
let org: SeededOrg;
let team: string;
let env: string;
let restrictedEnv: string;
let chain: string;
const keys: Record<string, string> = {};

const q = async (key: string, query: string, variables: Record<string, unknown> = {}) => app.gql(key, query, variables);
const succeeded = async (key: string, query: string, variables: Record<string, unknown> = {}) => {
  const result = await q(key, query, variables);
  return !result.errors?.length;
};
const gateway = async (key: string, action: string, environment = "prod") =>
  (await authorize(app, key, { action, team, model: "llama", environment })).status === 200;

async function member(label: string, teamRole?: "ADMIN" | "MEMBER" | "OPERATOR" | "VIEWER", orgRole: "MEMBER" | "BILLING_ADMIN" = "MEMBER") {
  return (await app.seed.member(org, orgRole, teamRole ? [{ teamId: team, role: teamRole }] : [], label)).key;
}
/** A member whose only access to the team is a custom role with exactly `permissions`. */
async function withRole(label: string, permissions: string[]) {
  const user = await app.seed.member(org, "MEMBER", [], label);
  const role = await app.ok(org.admin.key, `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id } }`, {
    o: org.orgId, n: label, p: permissions,
  });
  await app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { team { id } } }`, {
    r: role.createRole.id, t: team, p: user.userId,
  });
  return user.key;
}
async function teamKey(type: string, environmentIds?: string[]) {
  const created = await app.ok(org.admin.key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, {
    i: { teamId: team, name: `${type}-${environmentIds?.length ?? "all"}`, type, ...(environmentIds ? { environmentIds } : {}) },
  });
  return created.createApiKey.secret as string;
}
const fresh = async (kind: "model" | "chain") =>
  kind === "model"
    ? (await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { createModel(teamId: $t, name: $n) { id } }`, { t: team, n: `m${Date.now()}${Math.random()}` })).createModel.id
    : (await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { createChain(teamId: $t, name: $n) { id } }`, { t: team, n: `c${Date.now()}${Math.random()}` })).createChain.id;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  team = await app.seed.team(org, "Honest");
  env = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: team })).createEnvironment.id;
  restrictedEnv = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "locked", restricted: true) { id } }`, { t: team })).createEnvironment.id;
  await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "other") { id } }`, { t: team });
  await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: team });
  chain = await fresh("chain");
  await app.seed.team(org, "Elsewhere");
  const stranger = await app.seed.org("Stranger");
  keys.stranger = stranger.admin.key;
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const) keys[role] = await member(role.toLowerCase(), role);
  keys.orgMember = await member("plain");
  keys.billing = await member("billing", undefined, "BILLING_ADMIN");
  keys.grantee = await member("grantee", "MEMBER");
  const granteeId = (await app.ok(keys.grantee, `{ viewer { user { id } } }`)).viewer.user.id;
  await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: restrictedEnv, p: granteeId });
  for (const access of ["VIEWER", "RUNNER", "EDITOR"] as const) {
    const guest = await app.seed.member(org, "MEMBER", [], `guest-${access}`);
    await app.ok(org.admin.key, `mutation($c: ID!, $u: ID!, $a: ChainAccess!) { shareChain(chainId: $c, userId: $u, access: $a) { id } }`, { c: chain, u: guest.userId, a: access });
    keys[`chain${access}`] = guest.key;
  }
  keys.inferenceProd = await teamKey("INFERENCE_ONLY", [env]);
  keys.inferenceOther = await teamKey("INFERENCE_ONLY", [(await app.ok(org.admin.key, `query($t: ID!) { team(id: $t) { environments { id name } } }`, { t: team })).team.environments.find((e: any) => e.name === "other").id]);
  keys.metricsProd = await teamKey("METRICS_ONLY", [env]);
  keys.inference = await teamKey("INFERENCE_ONLY");
}, 300_000);
afterAll(() => app?.close());

type Case = { holder: () => Promise<string>; lacking: () => Promise<string>; run: (key: string) => Promise<boolean> };
const role = (label: string, permissions: string[]) => () => withRole(label, permissions);
const key = (name: string) => async () => keys[name]!;
const orgId = () => org.orgId;

/** "<object type> <catalog name>" → the operation that checks it. */
const CASES: Record<string, Case> = {
  "organization org:view": { holder: key("orgMember"), lacking: key("stranger"), run: (k) => succeeded(k, `query($o: ID!) { organization(id: $o) { viewerRole } }`, { o: orgId() }) },
  "organization org:manage": { holder: key("ADMIN_ORG"), lacking: key("orgMember"), run: (k) => succeeded(k, `mutation($o: ID!) { renameOrganization(id: $o, name: "Acme") { id } }`, { o: orgId() }) },
  "organization org:manage_members": {
    holder: key("ADMIN_ORG"), lacking: key("billing"),
    run: (k) => succeeded(k, `mutation($o: ID!, $e: String!) { inviteMember(input: { organizationId: $o, email: $e, role: MEMBER, teams: [] }) { invitation { id } } }`, { o: orgId(), e: `x${Math.random()}@example.test` }),
  },
  "organization org:manage_teams": { holder: key("ADMIN_ORG"), lacking: key("orgMember"), run: (k) => succeeded(k, `mutation($o: ID!, $n: String!) { createTeam(organizationId: $o, name: $n) { id } }`, { o: orgId(), n: `t${Math.random()}` }) },
  "organization org:view_all_teams": {
    holder: key("ADMIN_ORG"), lacking: key("orgMember"),
    run: async (k) => ((await app.ok(k, `query($o: ID!) { organization(id: $o) { teams(first: 100) { edges { node { name } } } } }`, { o: orgId() })).organization.teams.edges as any[]).some((e) => e.node.name === "Elsewhere"),
  },
  "organization billing:view": { holder: key("billing"), lacking: key("orgMember"), run: (k) => succeeded(k, `query($o: ID!) { organization(id: $o) { billingEmail usage { totalInvocations } } }`, { o: orgId() }) },
  "organization billing:manage": { holder: key("billing"), lacking: key("orgMember"), run: (k) => succeeded(k, `mutation($o: ID!) { setBillingEmail(organizationId: $o, email: "ap@example.test") { billingEmail } }`, { o: orgId() }) },
  "organization roles:manage": {
    holder: key("ADMIN_ORG"), lacking: key("billing"),
    run: (k) => succeeded(k, `mutation($o: ID!, $n: String!) { createRole(organizationId: $o, name: $n, permissions: ["team:view"]) { id } }`, { o: orgId(), n: `r${Math.random()}` }),
  },
  "organization audit:read_all": { holder: key("ADMIN_ORG"), lacking: key("billing"), run: (k) => succeeded(k, `query($o: ID!) { organization(id: $o) { auditLog(first: 1) { edges { cursor } } } }`, { o: orgId() }) },

  "team team:view": { holder: role("Viewing", ["team:view"]), lacking: role("Invoking", ["models:invoke"]), run: (k) => succeeded(k, `query($t: ID!) { team(id: $t) { name } }`, { t: team }) },
  "team audit:read": { holder: role("Auditing", ["team:view", "audit:read"]), lacking: role("JustView1", ["team:view"]), run: (k) => succeeded(k, `query($t: ID!) { team(id: $t) { auditLog(first: 1) { edges { cursor } } } }`, { t: team }) },
  "team metrics:read": { holder: role("Metrics", ["metrics:read"]), lacking: role("JustView2", ["team:view"]), run: (k) => gateway(k, "metrics:read") },
  "team models:invoke": { holder: role("Invoker", ["models:invoke"]), lacking: role("JustView3", ["team:view"]), run: (k) => gateway(k, "model:invoke") },
  "team chains:run": { holder: role("Runner", ["team:view", "chains:run"]), lacking: role("JustView4", ["team:view"]), run: (k) => succeeded(k, `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chain }) },
  "team results:export": {
    holder: role("Exporter", ["team:view", "results:export"]), lacking: role("JustView12", ["team:view", "chains:run"]),
    run: async (k) => (await app.http(`/v1/chains/${chain}/runs/export`, { headers: { authorization: `Bearer ${k}` } })).status === 200,
  },
  "team resources:write": { holder: role("Writer", ["team:view", "resources:write"]), lacking: role("JustView5", ["team:view"]), run: (k) => succeeded(k, `mutation($t: ID!, $n: String!) { createModel(teamId: $t, name: $n) { id } }`, { t: team, n: `w${Math.random()}` }) },
  "team resources:delete": { holder: role("Deleter", ["team:view", "resources:delete"]), lacking: role("JustView6", ["team:view"]), run: async (k) => succeeded(k, `mutation($m: ID!) { deleteModel(id: $m) }`, { m: await fresh("model") }) },
  "team secrets:read_names": { holder: role("Names", ["team:view", "secrets:read_names"]), lacking: role("JustView7", ["team:view"]), run: (k) => succeeded(k, `query($t: ID!) { team(id: $t) { secrets { name } } }`, { t: team }) },
  "team secrets:manage": { holder: role("Secrets", ["team:view", "secrets:manage"]), lacking: role("JustView8", ["team:view"]), run: (k) => succeeded(k, `mutation($t: ID!) { setSecret(teamId: $t, name: "K", value: "v") { version } }`, { t: team }) },
  "team team:manage_members": {
    holder: role("Members", ["team:view", "audit:read", "metrics:read", "team:manage_members"]), lacking: role("JustView9", ["team:view", "audit:read", "metrics:read"]),
    run: async (k) => succeeded(k, `mutation($t: ID!, $p: ID!) { addTeamMember(teamId: $t, principalId: $p, role: VIEWER) { role } }`, { t: team, p: (await app.seed.member(org, "MEMBER", [], "newcomer")).userId }),
  },
  "team team:manage_environments": { holder: role("Envs", ["team:view", "team:manage_environments"]), lacking: role("JustView10", ["team:view"]), run: (k) => succeeded(k, `mutation($t: ID!, $n: String!) { createEnvironment(teamId: $t, name: $n) { id } }`, { t: team, n: `e${Math.random()}`.slice(0, 20) }) },
  "team team:manage_keys": {
    holder: role("Keys", ["team:view", "metrics:read", "team:manage_keys"]), lacking: role("JustView11", ["team:view", "metrics:read"]),
    run: (k) => succeeded(k, `mutation($t: ID!) { createApiKey(input: { teamId: $t, name: "dash", type: METRICS_ONLY }) { secret } }`, { t: team }),
  },

  "model model:view": { holder: key("VIEWER"), lacking: key("inference"), run: async (k) => succeeded(k, `query($t: ID!) { team(id: $t) { models(first: 1) { edges { node { name } } } } }`, { t: team }) },
  "model model:invoke": { holder: key("OPERATOR"), lacking: key("VIEWER"), run: (k) => gateway(k, "model:invoke") },
  "model model:edit": { holder: key("MEMBER"), lacking: key("OPERATOR"), run: (k) => succeeded(k, `mutation($t: ID!) { deployModel(input: { teamId: $t, modelName: "llama", environment: "prod" }) { id } }`, { t: team }) },
  "model model:delete": { holder: key("ADMIN"), lacking: key("MEMBER"), run: async (k) => succeeded(k, `mutation($m: ID!) { deleteModel(id: $m) }`, { m: await fresh("model") }) },
  "model metrics:read": { holder: key("VIEWER"), lacking: key("inference"), run: (k) => gateway(k, "metrics:read") },

  "environment environment:view": { holder: key("VIEWER"), lacking: key("inference"), run: (k) => succeeded(k, `query($e: ID!) { node(id: $e) { id } }`, { e: env }) },
  "environment environment:invoke": { holder: key("inferenceProd"), lacking: key("inferenceOther"), run: (k) => gateway(k, "model:invoke") },
  "environment metrics:read": { holder: key("metricsProd"), lacking: key("inferenceProd"), run: (k) => gateway(k, "metrics:read") },
  "environment environment:manage": {
    holder: key("grantee"), lacking: key("MEMBER"),
    run: (k) => succeeded(k, `mutation($t: ID!) { deployModel(input: { teamId: $t, modelName: "llama", environment: "locked" }) { id } }`, { t: team }),
  },
  "environment environment:manage_access": {
    holder: key("ADMIN"), lacking: key("MEMBER"),
    run: async (k) => succeeded(k, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: restrictedEnv, p: (await app.seed.member(org, "MEMBER", [{ teamId: team, role: "MEMBER" }], "g2")).userId }),
  },

  "chain chain:view": { holder: key("chainVIEWER"), lacking: key("orgMember"), run: (k) => succeeded(k, `query($c: ID!) { node(id: $c) { id } }`, { c: chain }) },
  "chain chain:run": { holder: key("chainRUNNER"), lacking: key("chainVIEWER"), run: (k) => succeeded(k, `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chain }) },
  "chain chain:edit": { holder: key("chainEDITOR"), lacking: key("chainRUNNER"), run: (k) => succeeded(k, `mutation($c: ID!) { updateChain(id: $c, definition: { steps: [] }) { id } }`, { c: chain }) },
  "chain chain:delete": { holder: key("ADMIN"), lacking: key("MEMBER"), run: async (k) => succeeded(k, `mutation($c: ID!) { deleteChain(id: $c) }`, { c: await fresh("chain") }) },
};

describe("catalog honesty: every permission the catalog lists is an operation", () => {
  it("every catalog entry has an operation here, and every operation here is a catalog entry", () => {
    const catalog = PERMISSIONS.map((p) => `${p.objectType} ${p.name}`).sort();
    expect(Object.keys(CASES).sort()).toEqual(catalog);
  });

  it.each(Object.keys(CASES))("%s: allowed with it, refused without it", async (name) => {
    keys.ADMIN_ORG = org.admin.key;
    const { holder, lacking, run } = CASES[name]!;
    const [withIt, withoutIt] = [await holder(), await lacking()];
    expect({ name, refused: !(await run(withoutIt)) }).toEqual({ name, refused: true });
    expect({ name, allowed: await run(withIt) }).toEqual({ name, allowed: true });
  });
});

describe("the operations added for catalog honesty", () => {
  it("billing:manage is also what setTeamLimits checks: a BILLING_ADMIN sets a team's limits, a team ADMIN (who views the team) is FORBIDDEN", async () => {
    const set = `mutation($t: ID!) { setTeamLimits(teamId: $t, requestsPerMinute: 600) { requestsPerMinute } }`;
    expect(codes(await q(keys.ADMIN!, set, { t: team }))).toEqual(["FORBIDDEN"]);
    expect(codes(await q(keys.orgMember!, set, { t: team }))).toEqual(["NOT_FOUND"]);
    expect((await app.ok(keys.billing!, set, { t: team })).setTeamLimits).toEqual({ requestsPerMinute: 600 });
    await app.ok(keys.billing!, `mutation($t: ID!) { setTeamLimits(teamId: $t, requestsPerMinute: null) { requestsPerMinute } }`, { t: team });
  });

  it("setBillingEmail validates the address, clears it with null, and is hidden from strangers", async () => {
    expect(codes(await q(keys.billing!, `mutation($o: ID!) { setBillingEmail(organizationId: $o, email: "not an email") { id } }`, { o: org.orgId }))).toEqual(["BAD_USER_INPUT"]);
    const cleared = await app.ok(keys.billing!, `mutation($o: ID!) { setBillingEmail(organizationId: $o, email: null) { billingEmail } }`, { o: org.orgId });
    expect(cleared.setBillingEmail.billingEmail).toBeNull();
    const ghost = `org_${"0".repeat(28)}`;
    const [stranger, missing] = await Promise.all(
      [org.orgId, ghost].map((o) => q(keys.stranger!, `mutation($o: ID!) { setBillingEmail(organizationId: $o, email: "a@b.test") { id } }`, { o })),
    );
    expect(stranger!.errors?.[0]).toMatchObject({ message: missing!.errors?.[0]?.message, extensions: { code: "NOT_FOUND" } });
  });
});
