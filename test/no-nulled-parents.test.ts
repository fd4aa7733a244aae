import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type GraphQLResponse, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 11, hole 4: one hidden item must never null a whole page. For each kind of principal,
 * the console's deep query over everything it can reach answers without a single error,
 * except NOT_FOUND on a root field for an object the principal may not view at all; no list
 * holds a NOT_FOUND and no visible parent is nulled.
 */
let app: TestApp;
let org: SeededOrg;
let teamId: string;
const keys: Record<string, string> = {};

const ok = (key: string, query: string, variables: Record<string, unknown> = {}) => app.ok(key, query, variables);

interface Reach {
  /** May the principal reach the team (team#browse)? */
  team: boolean;
  /** May it read the organization through organization(id) (organization#view)? */
  organization: boolean;
}

const PRINCIPALS: Record<string, Reach> = {
  "org ADMIN": { team: true, organization: true },
  "org BILLING_ADMIN": { team: true, organization: true },
  // The team is the default team, which every member browses (Organization.defaultTeam: Team!).
  "org MEMBER on no team": { team: true, organization: true },
  "team ADMIN": { team: true, organization: true },
  "team MEMBER": { team: true, organization: true },
  "team OPERATOR": { team: true, organization: true },
  "team VIEWER": { team: true, organization: true },
  "custom-role holder (team:view, models:invoke)": { team: true, organization: true },
  "chain-shared user": { team: true, organization: true },
  "FULL_ACCESS team key": { team: true, organization: false },
  "FULL_ACCESS team key scoped to staging × llama": { team: true, organization: false },
  // Keys that cannot view their team (team#view: FULL_ACCESS only) do not reach it.
  "INFERENCE_ONLY team key": { team: false, organization: false },
  "INFERENCE_ONLY team key scoped to staging × llama": { team: false, organization: false },
  "METRICS_ONLY team key": { team: false, organization: false },
  "METRICS_ONLY team key scoped to staging × llama": { team: false, organization: false },
  "service account (VIEWER)": { team: true, organization: false },
};

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  const admin = org.admin.key;
  // The default team: its members are not the only ones who reach it (see "org MEMBER on no team").
  teamId = org.defaultTeamId;
  const staging = (await ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: teamId })).createEnvironment.id;
  const production = (await ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "production", restricted: true) { id } }`, { t: teamId })).createEnvironment.id;
  for (const [model, environment] of [["llama", "staging"], ["llama", "production"], ["mistral", "production"]]) {
    await ok(admin, `mutation($t: ID!, $m: String!, $e: String!) { deployModel(input: { teamId: $t, modelName: $m, environment: $e }) { id } }`, { t: teamId, m: model, e: environment });
  }
  const llama = (await ok(admin, `query($t: ID!) { team(id: $t) { models(first: 10) { edges { node { id name } } } } }`, { t: teamId })).team.models.edges.find(
    (e: any) => e.node.name === "llama",
  ).node.id;
  const chain = (await ok(admin, `mutation($t: ID!) { createChain(teamId: $t, name: "bot", definition: { steps: [] }) { id } }`, { t: teamId })).createChain.id;
  await ok(admin, `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chain });

  keys["org ADMIN"] = admin;
  keys["org BILLING_ADMIN"] = (await app.seed.member(org, "BILLING_ADMIN", [], "billing")).key;
  keys["org MEMBER on no team"] = (await app.seed.member(org, "MEMBER", [], "teamless")).key;
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const) {
    keys[`team ${role}`] = (await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase())).key;
  }
  const holder = await app.seed.member(org, "MEMBER", [], "custom");
  const roleId = (await ok(admin, `mutation($o: ID!) { createRole(organizationId: $o, name: "Invoker", permissions: ["team:view", "models:invoke"]) { id } }`, { o: org.orgId })).createRole.id;
  await ok(admin, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { team { id } } }`, { r: roleId, t: teamId, p: holder.userId });
  keys["custom-role holder (team:view, models:invoke)"] = holder.key;
  const guest = await app.seed.member(org, "MEMBER", [], "guest");
  await ok(admin, `mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: RUNNER) { id } }`, { c: chain, u: guest.userId });
  keys["chain-shared user"] = guest.key;
  for (const type of ["FULL_ACCESS", "INFERENCE_ONLY", "METRICS_ONLY"]) {
    const create = `mutation($t: ID!, $type: ApiKeyType!, $e: [ID!], $m: [ID!]) { createApiKey(input: { name: "k", teamId: $t, type: $type, environmentIds: $e, modelIds: $m }) { secret apiKey { id } } }`;
    const unscoped = (await ok(admin, create, { t: teamId, type })).createApiKey;
    keys[`${type} team key`] = unscoped.secret;
    keys[`${type} team key scoped to staging × llama`] = (await ok(admin, create, { t: teamId, type, e: [staging], m: [llama] })).createApiKey.secret;
    // A team key among production's grantees: a grantee most callers may not view.
    if (type === "FULL_ACCESS") {
      await ok(admin, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: production, p: unscoped.apiKey.id });
    }
  }
  const account = (await ok(admin, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "bot", role: VIEWER) { secret serviceAccount { id } } }`, { t: teamId }))
    .createServiceAccount;
  await ok(admin, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: production, p: account.serviceAccount.id });
  keys["service account (VIEWER)"] = account.secret;
}, 120_000);
afterAll(() => app?.close());

const orgFields = `id name defaultTeam { id name }`;
const teamFields = `id name isDefault organization { ${orgFields} }`;
const deepQuery = `query($t: ID!, $o: ID!) {
  viewer { principal { id kind } organizations { ${orgFields} } teams { ${teamFields} } }
  organization(id: $o) { ${orgFields} teams(first: 10) { edges { node { id name } } } }
  team(id: $t) {
    ${teamFields}
    environments { id name restricted team { id } grantees { id kind } }
    models(first: 5) { edges { node { id name team { id } deployments { id version model { id team { id } } environment { id name team { id } } createdBy { id } } } } }
    chains(first: 5) { edges { node { id name team { id } definition runs { id chain { id team { id } } startedBy { id } } } } }
  }
}`;

/** Every error, as path and code, that the principal's reach does not explain. */
function unexplained(response: GraphQLResponse, reach: Reach) {
  return (response.errors ?? [])
    .map((e) => ({ path: (e.path ?? []).join("."), code: e.extensions?.code, message: e.message }))
    .filter((e) => !(e.code === "NOT_FOUND" && ((e.path === "team" && !reach.team) || (e.path === "organization" && !reach.organization))));
}

describe("no nulled parents (issue 11, hole 4)", () => {
  it.each(Object.entries(PRINCIPALS))("%s: the deep query answers without an unexplained error, every reachable parent present", async (who, reach) => {
    const response = await app.gql(keys[who], deepQuery, { t: teamId, o: org.orgId });
    expect(unexplained(response, reach)).toEqual([]);
    expect(response.data?.viewer).not.toBeNull();
    if (reach.team) {
      expect(response.data?.team?.id).toBe(teamId);
      expect(response.data?.team?.organization).toMatchObject({ id: org.orgId, defaultTeam: { id: org.defaultTeamId } });
    } else {
      expect(response.data?.team).toBeNull();
    }
    if (reach.organization) expect(response.data?.organization).toMatchObject({ id: org.orgId, defaultTeam: { id: org.defaultTeamId } });
    else expect(response.data?.organization).toBeNull();
  });

  it("a team VIEWER sees production's grantees without the team key among them", async () => {
    const data = await ok(keys["team VIEWER"]!, `query($t: ID!) { team(id: $t) { environments { name grantees { kind } } } }`, { t: teamId });
    const production = data.team.environments.find((e: any) => e.name === "production");
    expect(production.grantees.map((g: any) => g.kind)).toEqual(["SERVICE_ACCOUNT"]);
  });

  it("an environment-scoped key's models list only deployments in its environments", async () => {
    const data = await ok(keys["FULL_ACCESS team key scoped to staging × llama"]!, `query($t: ID!) { team(id: $t) { models(first: 10) { edges { node { name deployments { environment { name } } } } } } }`, {
      t: teamId,
    });
    expect(data.team.models.edges).toEqual([{ node: { name: "llama", deployments: [{ environment: { name: "staging" } }] } }]);
  });

  it("a deployment outside an environment-scoped key's scope is NOT_FOUND through node(id), as a missing one is", async () => {
    const all = await ok(org.admin.key, `query($t: ID!) { team(id: $t) { models(first: 10) { edges { node { name deployments { id environment { name } } } } } } }`, { t: teamId });
    const llama = all.team.models.edges.find((e: any) => e.node.name === "llama").node;
    const inProduction = llama.deployments.find((d: any) => d.environment.name === "production").id;
    const response = await app.gql(keys["FULL_ACCESS team key scoped to staging × llama"], `query($id: ID!) { node(id: $id) { id } }`, { id: inProduction });
    expect(response.errors?.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    expect(response.data?.node ?? null).toBeNull();
  });
});

describe("Team.organization for a team created by createTeam", () => {
  it("a FULL_ACCESS key of a new team reaches its team and the team's organization", async () => {
    const newTeam = await app.seed.team(org, "Fresh");
    const key = (await ok(org.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "k", teamId: $t, type: FULL_ACCESS }) { secret } }`, { t: newTeam })).createApiKey.secret;
    const response = await app.gql(key, `query($t: ID!) { team(id: $t) { id organization { id name } } }`, { t: newTeam });
    expect(response.errors).toBeUndefined();
    expect(response.data?.team).toEqual({ id: newTeam, organization: { id: org.orgId, name: "Acme" } });
  });
});
