import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type GraphQLResponse, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * The deletions of issue 13: environments (team ADMINs, CONFLICT while deployments serve),
 * training projects (resources:delete) and service accounts (team:manage_keys, and nothing
 * taken away that the caller does not hold). Each removes its relationships in the same
 * transaction; an object the caller cannot view is NOT_FOUND, as a nonexistent one.
 */
let app: TestApp;
let org: SeededOrg;
let other: SeededOrg;
let teamId: string;
const cast: Record<string, SeededMember> = {};
const keys: Record<string, string> = {};

const createEnv = `mutation($t: ID!, $n: String!) { createEnvironment(teamId: $t, name: $n) { id } }`;
const deleteEnv = `mutation($i: ID!) { deleteEnvironment(id: $i) }`;
const deleteProject = `mutation($i: ID!) { deleteTrainingProject(id: $i) }`;
const deleteAccount = `mutation($i: ID!) { deleteServiceAccount(id: $i) }`;
const GHOSTS = { env: `env_${"0".repeat(28)}`, trn: `trn_${"0".repeat(28)}`, sa: `sa_${"0".repeat(28)}` };
const message = (response: GraphQLResponse) => ({ codes: codes(response), message: response.errors?.[0]?.message });

let counter = 0;
const environment = async (team = teamId, key = org.admin.key) => (await app.ok(key, createEnv, { t: team, n: `env-${++counter}` })).createEnvironment.id as string;
const project = async (team = teamId, key = org.admin.key) =>
  (await app.ok(key, `mutation($t: ID!, $n: String!) { createTrainingProject(teamId: $t, name: $n) { id } }`, { t: team, n: `project-${++counter}` })).createTrainingProject.id as string;
const robot = async (role = "MEMBER", team = teamId, key = org.admin.key) => {
  const created = await app.ok(key, `mutation($t: ID!, $n: String!, $r: TeamRole!) { createServiceAccount(teamId: $t, name: $n, role: $r) { serviceAccount { id } apiKey { id } secret } }`, {
    t: team,
    n: `robot-${++counter}`,
    r: role,
  });
  return { id: created.createServiceAccount.serviceAccount.id as string, keyId: created.createServiceAccount.apiKey.id as string, secret: created.createServiceAccount.secret as string };
};
const teamKey = async (type: string, environmentIds?: string[]) =>
  (await app.ok(org.admin.key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }`, { i: { name: "k", teamId, type, environmentIds } })).createApiKey as {
    apiKey: { id: string };
    secret: string;
  };
/** Relationships still recorded with `id` as resource or subject. */
const relationshipsOf = async (id: string) =>
  (await app.orgraph.deps.db.selectFrom("authz_relationships").selectAll().where((eb) => eb.or([eb("resource_id", "=", id), eb("subject_id", "=", id)])).execute()).length;
const customRole = async (name: string, permissions: string[]) => {
  const role = (await app.ok(org.admin.key, `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id } }`, { o: org.orgId, n: name, p: permissions })).createRole.id;
  const holder = await app.seed.member(org, "MEMBER", [], name);
  await app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: teamId, p: holder.userId });
  return holder;
};

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  other = await app.seed.org("Elsewhere");
  teamId = await app.seed.team(org, "Platform");
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const) cast[role] = await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase());
  cast.WRITER = await customRole("writer", ["resources:write"]);
  cast.DELETER = await customRole("deleter", ["team:view", "resources:delete"]);
  cast.KEEPER = await customRole("keeper", ["team:view", "audit:read", "metrics:read", "team:manage_keys"]);
  keys.full = (await teamKey("FULL_ACCESS")).secret;
  keys.inference = (await teamKey("INFERENCE_ONLY")).secret;
}, 300_000);
afterAll(() => app?.close());

/** NOT_FOUND, worded exactly as for a ghost id of the same kind. */
async function expectUnseen(key: string, query: string, id: string, ghost: string) {
  const mine = message(await app.gql(key, query, { i: id }));
  expect(mine).toEqual({ codes: ["NOT_FOUND"], message: "Not found" });
  expect(message(await app.gql(key, query, { i: ghost }))).toEqual(mine);
}

describe("deleteEnvironment", () => {
  it("a team ADMIN deletes an environment; no relationship on it remains, and the deletion is audited", async () => {
    const id = await environment();
    await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: id, p: cast.MEMBER!.userId });
    expect(await relationshipsOf(id)).toBeGreaterThan(0);
    expect((await app.ok(cast.ADMIN!.key, deleteEnv, { i: id })).deleteEnvironment).toBe(true);
    expect(await relationshipsOf(id)).toBe(0);
    expect(codes(await app.gql(cast.ADMIN!.key, `query($i: ID!) { node(id: $i) { id } }`, { i: id }))).toEqual(["NOT_FOUND"]);
    const event = await app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("action", "=", "environment.delete").where("target_id", "=", id).executeTakeFirst();
    expect(event).toMatchObject({ result: "SUCCESS", actor_id: cast.ADMIN!.userId, org_id: org.orgId });
  });

  it("refused with CONFLICT while a deployment is active there; once removed, deleted with its history", async () => {
    const id = await environment();
    const name = `env-${counter}`;
    const deployment = (await app.ok(cast.MEMBER!.key, `mutation($t: ID!, $e: String!) { deployModel(input: { teamId: $t, modelName: "served", environment: $e }) { id } }`, { t: teamId, e: name })).deployModel.id;
    expect(codes(await app.gql(cast.ADMIN!.key, deleteEnv, { i: id }))).toEqual(["CONFLICT"]);
    await app.ok(cast.MEMBER!.key, `mutation($d: ID!) { removeDeployment(id: $d) }`, { d: deployment });
    expect((await app.ok(cast.ADMIN!.key, deleteEnv, { i: id })).deleteEnvironment).toBe(true);
  });

  it("MEMBER, OPERATOR, VIEWER and a FULL_ACCESS key are FORBIDDEN; an org ADMIN may", async () => {
    const id = await environment();
    for (const key of [cast.MEMBER!.key, cast.OPERATOR!.key, cast.VIEWER!.key, keys.full]) expect(codes(await app.gql(key, deleteEnv, { i: id }))).toEqual(["FORBIDDEN"]);
    expect((await app.ok(org.admin.key, deleteEnv, { i: id })).deleteEnvironment).toBe(true);
  });

  it("who cannot view it (a write-only custom role, an INFERENCE_ONLY key, another organization) gets NOT_FOUND as for a ghost id", async () => {
    const id = await environment();
    for (const key of [cast.WRITER!.key, keys.inference!, other.admin.key]) await expectUnseen(key, deleteEnv, id, GHOSTS.env);
  });

  it("a key scoped to it alone keeps the deletion from happening (CONFLICT: it would read as unscoped); a key scoped to it and another keeps the other only", async () => {
    const [doomed, kept, third] = [await environment(), await environment(), await environment()];
    const lonely = await teamKey("FULL_ACCESS", [doomed]);
    const pair = await teamKey("FULL_ACCESS", [doomed, kept]);
    expect(message(await app.gql(cast.ADMIN!.key, deleteEnv, { i: doomed })).codes).toEqual(["CONFLICT"]);
    await app.ok(org.admin.key, `mutation($k: ID!) { revokeApiKey(id: $k) { id } }`, { k: lonely.apiKey.id });
    expect((await app.ok(cast.ADMIN!.key, deleteEnv, { i: doomed })).deleteEnvironment).toBe(true);

    const scope = await app.ok(pair.secret, `{ viewer { principal { ... on ApiKey { environments { id } } } } }`);
    expect(scope.viewer.principal.environments).toEqual([{ id: kept }]);
    const reach = await app.ok(pair.secret, `query($t: ID!) { team(id: $t) { environments { id } } }`, { t: teamId });
    expect(reach.team.environments).toEqual([{ id: kept }]);
    expect(codes(await app.gql(pair.secret, `query($i: ID!) { node(id: $i) { id } }`, { i: third }))).toEqual(["NOT_FOUND"]);
  });
});

describe("deleteTrainingProject", () => {
  it("team ADMIN, org ADMIN and a custom role with team:view and resources:delete delete it; its relationships go", async () => {
    for (const key of [cast.ADMIN!.key, org.admin.key, cast.DELETER!.key]) {
      const id = await project();
      expect((await app.ok(key, deleteProject, { i: id })).deleteTrainingProject).toBe(true);
      expect(await relationshipsOf(id)).toBe(0);
      expect((await app.ok(cast.VIEWER!.key, `query($t: ID!) { team(id: $t) { trainingProjects { id } } }`, { t: teamId })).team.trainingProjects).not.toContainEqual({ id });
    }
  });

  it("MEMBER, OPERATOR, VIEWER and a FULL_ACCESS key are FORBIDDEN", async () => {
    const id = await project();
    for (const key of [cast.MEMBER!.key, cast.OPERATOR!.key, cast.VIEWER!.key, keys.full]) expect(codes(await app.gql(key, deleteProject, { i: id }))).toEqual(["FORBIDDEN"]);
  });

  it("who cannot view it (a write-only custom role, an INFERENCE_ONLY key, another organization) gets NOT_FOUND as for a ghost id", async () => {
    const id = await project();
    for (const key of [cast.WRITER!.key, keys.inference!, other.admin.key]) await expectUnseen(key, deleteProject, id, GHOSTS.trn);
  });
});

describe("deleteServiceAccount", () => {
  it("a team ADMIN deletes a robot: its key fails on the very next request, and no relationship of it or its key remains", async () => {
    const bot = await robot("MEMBER");
    const env = await environment();
    await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: env, p: bot.id });
    expect((await app.ok(bot.secret, `{ viewer { principal { id } } }`)).viewer.principal.id).toBe(bot.id);
    expect((await app.ok(cast.ADMIN!.key, deleteAccount, { i: bot.id })).deleteServiceAccount).toBe(true);
    expect(codes(await app.gql(bot.secret, `{ viewer { principal { id } } }`))).toEqual(["UNAUTHENTICATED"]);
    expect(await relationshipsOf(bot.id)).toBe(0);
    expect(await relationshipsOf(bot.keyId)).toBe(0);
  });

  it("an org ADMIN may; MEMBER, OPERATOR, VIEWER and a FULL_ACCESS key are FORBIDDEN", async () => {
    const bot = await robot("VIEWER");
    for (const key of [cast.MEMBER!.key, cast.OPERATOR!.key, cast.VIEWER!.key, keys.full]) expect(codes(await app.gql(key, deleteAccount, { i: bot.id }))).toEqual(["FORBIDDEN"]);
    expect((await app.ok(org.admin.key, deleteAccount, { i: bot.id })).deleteServiceAccount).toBe(true);
  });

  it("a key manager deletes only what it could have given: a VIEWER robot yes, a MEMBER robot no (FORBIDDEN)", async () => {
    const viewerBot = await robot("VIEWER");
    const memberBot = await robot("MEMBER");
    expect(codes(await app.gql(cast.KEEPER!.key, deleteAccount, { i: memberBot.id }))).toEqual(["FORBIDDEN"]);
    expect((await app.ok(cast.KEEPER!.key, deleteAccount, { i: viewerBot.id })).deleteServiceAccount).toBe(true);
  });

  it("who cannot view it (a write-only custom role, an INFERENCE_ONLY key, another organization) gets NOT_FOUND as for a ghost id", async () => {
    const bot = await robot("VIEWER");
    for (const key of [cast.WRITER!.key, keys.inference!, other.admin.key]) await expectUnseen(key, deleteAccount, bot.id, GHOSTS.sa);
  });
});
