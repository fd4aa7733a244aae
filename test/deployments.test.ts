import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type GraphQLResponse, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Deployments after the first deploy (issue 13, PRODUCT §4–§6): promote, scale, remove, and
 * the history. Promote is decided as deployModel is (model edit and environment manage on the
 * target, a restricted target needs a grant or org ADMIN); scale and remove need the same on
 * the deployment's own environment. A deployment the caller cannot view is NOT_FOUND.
 */
let app: TestApp;
let org: SeededOrg;
let other: SeededOrg;
let teamId: string;
let staging: string;
let production: string;
const cast: Record<string, SeededMember> = {};
const keys: Record<string, string> = {};

const deploy = `mutation($t: ID!, $m: String!, $e: String!, $c: JSON) { deployModel(input: { teamId: $t, modelName: $m, environment: $e, config: $c }) { id } }`;
const promote = `mutation($d: ID!, $e: String!) { promoteDeployment(id: $d, environment: $e) { id version active config environment { name } model { name } } }`;
const scale = `mutation($d: ID!, $c: JSON!) { scaleDeployment(id: $d, config: $c) { id version active config environment { name } } }`;
const remove = `mutation($d: ID!) { removeDeployment(id: $d) }`;
const ghost = `dep_${"0".repeat(28)}`;
const createEnv = `mutation($t: ID!, $n: String!, $r: Boolean) { createEnvironment(teamId: $t, name: $n, restricted: $r) { id } }`;
const grant = (environmentId: string, principalId: string) =>
  app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: environmentId, p: principalId });
const teamKey = async (type: string, environmentIds?: string[]) => {
  const created = await app.ok(org.admin.key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }`, {
    i: { name: `${type}-key`, teamId, type, environmentIds },
  });
  return { id: created.createApiKey.apiKey.id as string, secret: created.createApiKey.secret as string };
};
/** Deploys a fresh model into staging as the org ADMIN; its deployment id. */
let modelCounter = 0;
const stagingDeployment = async (config: unknown = { replicas: 1 }) =>
  (await app.ok(org.admin.key, deploy, { t: teamId, m: `model-${++modelCounter}`, e: "staging", c: config })).deployModel.id as string;
const message = (response: GraphQLResponse) => ({ codes: codes(response), message: response.errors?.[0]?.message });

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  other = await app.seed.org("Elsewhere");
  teamId = await app.seed.team(org, "Serving");
  staging = (await app.ok(org.admin.key, createEnv, { t: teamId, n: "staging" })).createEnvironment.id;
  production = (await app.ok(org.admin.key, createEnv, { t: teamId, n: "production", r: true })).createEnvironment.id;
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const) cast[role] = await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase());
  cast.GRANTEE = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], "grantee");
  await grant(production, cast.GRANTEE.userId);
  cast.WRITER = await app.seed.member(org, "MEMBER", [], "writer");
  const role = (await app.ok(org.admin.key, `mutation($o: ID!) { createRole(organizationId: $o, name: "writer", permissions: ["resources:write"]) { id } }`, { o: org.orgId })).createRole.id;
  await app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: teamId, p: cast.WRITER.userId });
  keys.full = (await teamKey("FULL_ACCESS")).secret;
  keys.stagingOnly = (await teamKey("FULL_ACCESS", [staging])).secret;
  keys.inference = (await teamKey("INFERENCE_ONLY")).secret;
  const granted = await teamKey("FULL_ACCESS");
  await grant(production, granted.id);
  keys.granted = granted.secret;
}, 300_000);
afterAll(() => app?.close());

describe("promoteDeployment: staging → production", () => {
  it("a MEMBER without a grant is FORBIDDEN on restricted production; a granted MEMBER promotes the same model and config as a new active version", async () => {
    const id = await stagingDeployment({ replicas: 3, gpu: "a100" });
    expect(codes(await app.gql(cast.MEMBER!.key, promote, { d: id, e: "production" }))).toEqual(["FORBIDDEN"]);
    const promoted = (await app.ok(cast.GRANTEE!.key, promote, { d: id, e: "production" })).promoteDeployment;
    expect(promoted).toMatchObject({ version: 1, active: true, config: { replicas: 3, gpu: "a100" }, environment: { name: "production" }, model: { name: `model-${modelCounter}` } });
    expect(promoted.id).not.toBe(id);
    // The source keeps serving staging.
    const source = await app.ok(cast.VIEWER!.key, `query($d: ID!) { node(id: $d) { ... on Deployment { active environment { name } } } }`, { d: id });
    expect(source.node).toEqual({ active: true, environment: { name: "staging" } });
  });

  it("an org ADMIN promotes without a grant; a team ADMIN without a grant may not", async () => {
    const id = await stagingDeployment();
    expect(codes(await app.gql(cast.ADMIN!.key, promote, { d: id, e: "production" }))).toEqual(["FORBIDDEN"]);
    expect((await app.ok(org.admin.key, promote, { d: id, e: "production" })).promoteDeployment.active).toBe(true);
  });

  it("a MEMBER promotes into an open environment; OPERATOR and VIEWER see the deployment but are FORBIDDEN", async () => {
    await app.ok(org.admin.key, createEnv, { t: teamId, n: "qa" });
    const id = await stagingDeployment();
    expect((await app.ok(cast.MEMBER!.key, promote, { d: id, e: "qa" })).promoteDeployment.environment.name).toBe("qa");
    for (const role of ["OPERATOR", "VIEWER"]) expect(codes(await app.gql(cast[role]!.key, promote, { d: id, e: "qa" }))).toEqual(["FORBIDDEN"]);
  });

  it("an environment name the team lacks and another team's environment answer alike: BAD_USER_INPUT naming only the name", async () => {
    const elsewhere = await app.seed.team(org, "Elsewhere");
    await app.ok(org.admin.key, createEnv, { t: elsewhere, n: "canary" });
    const id = await stagingDeployment();
    const missing = message(await app.gql(cast.MEMBER!.key, promote, { d: id, e: "nowhere" }));
    const foreign = message(await app.gql(cast.MEMBER!.key, promote, { d: id, e: "canary" }));
    expect(missing.codes).toEqual(["BAD_USER_INPUT"]);
    expect(foreign).toEqual({ codes: ["BAD_USER_INPUT"], message: missing.message!.replace("nowhere", "canary") });
  });

  it("a FULL_ACCESS key scoped to staging sees production as nonexistent; an unscoped key needs a grant there", async () => {
    const id = await stagingDeployment();
    const scoped = message(await app.gql(keys.stagingOnly, promote, { d: id, e: "production" }));
    const nowhere = message(await app.gql(keys.stagingOnly, promote, { d: id, e: "nowhere" }));
    expect(scoped).toEqual({ codes: ["BAD_USER_INPUT"], message: nowhere.message!.replace("nowhere", "production") });
    expect(codes(await app.gql(keys.full, promote, { d: id, e: "production" }))).toEqual(["FORBIDDEN"]);
    expect((await app.ok(keys.granted, promote, { d: id, e: "production" })).promoteDeployment.environment.name).toBe("production");
  });

  it("promoting an older version into its own environment makes it active again (a rollback)", async () => {
    const first = await stagingDeployment({ replicas: 1 });
    await app.ok(cast.MEMBER!.key, scale, { d: first, c: { replicas: 5 } });
    const rolledBack = (await app.ok(cast.MEMBER!.key, promote, { d: first, e: "staging" })).promoteDeployment;
    expect(rolledBack).toMatchObject({ version: 3, active: true, config: { replicas: 1 }, environment: { name: "staging" } });
  });
});

describe("who may not even see a deployment gets NOT_FOUND, as for a ghost id", () => {
  it("a custom role with resources:write only (model edit, environment manage, no view) cannot see a deployment to promote, scale or remove it", async () => {
    const id = await stagingDeployment();
    for (const [query, variables] of [[promote, { e: "staging" }], [scale, { c: { replicas: 2 } }], [remove, {}]] as const) {
      const mine = message(await app.gql(cast.WRITER!.key, query, { d: id, ...variables }));
      expect(mine).toEqual(message(await app.gql(cast.WRITER!.key, query, { d: ghost, ...variables })));
      expect(mine.codes).toEqual(["NOT_FOUND"]);
    }
  });

  it("the same write-only role cannot deploy what it could not see afterwards: FORBIDDEN, and nothing is written", async () => {
    const rows = async () => (await app.orgraph.deps.db.selectFrom("deployments").select("id").execute()).length;
    const before = await rows();
    // Without a teamId the team is inferred from where the caller may write; the answer must not be a write followed by NOT_FOUND.
    const answer = await app.gql(cast.WRITER!.key, `mutation { deployModel(input: { modelName: "invisible", environment: "staging" }) { id } }`);
    expect(codes(answer)).toEqual(["FORBIDDEN"]);
    expect(await rows()).toBe(before);
  });

  it("an INFERENCE_ONLY key, a key scoped to another environment, and another organization's admin: NOT_FOUND", async () => {
    const id = (await app.ok(org.admin.key, promote, { d: await stagingDeployment(), e: "production" })).promoteDeployment.id;
    for (const key of [keys.inference, keys.stagingOnly, other.admin.key]) {
      for (const [query, variables] of [[promote, { e: "staging" }], [scale, { c: { replicas: 2 } }], [remove, {}]] as const) {
        const mine = message(await app.gql(key, query, { d: id, ...variables }));
        expect(mine).toEqual({ codes: ["NOT_FOUND"], message: "Not found" });
        expect(message(await app.gql(key, query, { d: ghost, ...variables }))).toEqual(mine);
      }
    }
  });
});

describe("scaleDeployment and removeDeployment", () => {
  it("scale writes a new active version with the new config; the old version stays as history and cannot be scaled (CONFLICT)", async () => {
    const id = await stagingDeployment({ replicas: 1 });
    const scaled = (await app.ok(cast.MEMBER!.key, scale, { d: id, c: { replicas: 4, autoscale: { max: 8 } } })).scaleDeployment;
    expect(scaled).toMatchObject({ version: 2, active: true, config: { replicas: 4, autoscale: { max: 8 } }, environment: { name: "staging" } });
    const old = message(await app.gql(cast.MEMBER!.key, scale, { d: id, c: { replicas: 9 } }));
    expect(old).toEqual({ codes: ["CONFLICT"], message: "Only the active deployment can be scaled" });
  });

  it("scale needs a JSON object of bounded size (BAD_USER_INPUT)", async () => {
    const id = await stagingDeployment();
    for (const config of [[1, 2], "big", 3, { blob: "x".repeat(70 * 1024) }]) {
      expect(codes(await app.gql(cast.MEMBER!.key, scale, { d: id, c: config }))).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("in restricted production only grantees and org ADMINs scale or remove; OPERATOR, VIEWER, a MEMBER and a team ADMIN without a grant are FORBIDDEN", async () => {
    const id = (await app.ok(org.admin.key, promote, { d: await stagingDeployment(), e: "production" })).promoteDeployment.id;
    for (const role of ["OPERATOR", "VIEWER", "MEMBER", "ADMIN"]) {
      expect(codes(await app.gql(cast[role]!.key, scale, { d: id, c: { replicas: 2 } }))).toEqual(["FORBIDDEN"]);
      expect(codes(await app.gql(cast[role]!.key, remove, { d: id }))).toEqual(["FORBIDDEN"]);
    }
    expect(codes(await app.gql(keys.full, remove, { d: id }))).toEqual(["FORBIDDEN"]);
    const scaled = (await app.ok(cast.GRANTEE!.key, scale, { d: id, c: { replicas: 2 } })).scaleDeployment;
    expect((await app.ok(org.admin.key, remove, { d: scaled.id })).removeDeployment).toBe(true);
  });

  it("a key scoped to staging scales and removes there", async () => {
    const id = await stagingDeployment();
    const scaled = (await app.ok(keys.stagingOnly, scale, { d: id, c: { replicas: 2 } })).scaleDeployment;
    expect((await app.ok(keys.stagingOnly, remove, { d: scaled.id })).removeDeployment).toBe(true);
  });

  it("after remove the model has no active deployment there, Model.deployments drops it, the history keeps every version; removing again is CONFLICT", async () => {
    const id = await stagingDeployment({ replicas: 1 });
    const modelId = (await app.ok(cast.VIEWER!.key, `query($d: ID!) { node(id: $d) { ... on Deployment { model { id } } } }`, { d: id })).node.model.id;
    const promoted = (await app.ok(org.admin.key, promote, { d: id, e: "production" })).promoteDeployment.id;
    const scaled = (await app.ok(cast.MEMBER!.key, scale, { d: id, c: { replicas: 2 } })).scaleDeployment.id;
    expect((await app.ok(cast.MEMBER!.key, remove, { d: scaled })).removeDeployment).toBe(true);
    expect(message(await app.gql(cast.MEMBER!.key, remove, { d: scaled }))).toEqual({ codes: ["CONFLICT"], message: "Only the active deployment can be removed" });

    const history = `query($m: ID!, $e: String) { node(id: $m) { ... on Model { deployments { id } deploymentHistory(environment: $e) { id version active environment { name } } } } }`;
    const seen = (await app.ok(cast.VIEWER!.key, history, { m: modelId })).node;
    expect(seen.deployments).toEqual([{ id: promoted }]);
    expect(seen.deploymentHistory).toEqual([
      { id: scaled, version: 2, active: false, environment: { name: "staging" } },
      { id: promoted, version: 1, active: true, environment: { name: "production" } },
      { id, version: 1, active: false, environment: { name: "staging" } },
    ]);
    const onlyStaging = (await app.ok(cast.VIEWER!.key, history, { m: modelId, e: "staging" })).node.deploymentHistory;
    expect(onlyStaging.map((d: { id: string }) => d.id)).toEqual([scaled, id]);
    expect((await app.ok(cast.VIEWER!.key, history, { m: modelId, e: "nowhere" })).node.deploymentHistory).toEqual([]);
    // A key scoped to staging sees no production rows, even when it asks for them by name.
    const scoped = (await app.ok(keys.stagingOnly, history, { m: modelId })).node;
    expect(scoped.deploymentHistory.map((d: { id: string }) => d.id)).toEqual([scaled, id]);
    expect(scoped.deployments).toEqual([]);
    expect((await app.ok(keys.stagingOnly, history, { m: modelId, e: "production" })).node.deploymentHistory).toEqual([]);
  });

  it("each decision is in the audit log, the refusals too", async () => {
    const id = await stagingDeployment();
    await app.gql(cast.VIEWER!.key, scale, { d: id, c: { replicas: 2 } });
    await app.ok(cast.MEMBER!.key, scale, { d: id, c: { replicas: 2 } });
    const events = await app.orgraph.deps.db.selectFrom("audit_events").select(["action", "result", "actor_id", "target_id"]).where("target_id", "=", id).execute();
    expect(events).toEqual(
      expect.arrayContaining([
        { action: "deployment.scale", result: "DENIED", actor_id: cast.VIEWER!.userId, target_id: id },
        { action: "deployment.scale", result: "SUCCESS", actor_id: cast.MEMBER!.userId, target_id: id },
      ]),
    );
  });
});
