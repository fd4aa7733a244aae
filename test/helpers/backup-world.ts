import { permissionsOf, type ObjectKind } from "../../src/authz/catalog.js";
import { GATEWAY_ACTIONS } from "../../src/modules/gateway/authorize.js";
import { secretContext } from "../../src/modules/secret/secret.service.js";
import type { TestApp } from "./app.js";
import { authorize } from "./gateway.js";

/**
 * A varied state built through the API, and everything it answers about permissions: what a
 * backup and restore must bring back unchanged.
 */
export interface World {
  /** Every credential: each user's personal key and each API key (a revoked one too). */
  principals: Record<string, string>;
  objects: { name: string; id: string; kind: ObjectKind }[];
  /** The models the gateway is asked about (with their team), in every environment name of the organization. */
  models: Record<string, { id: string; teamId: string }>;
  environmentNames: string[];
  secret: { teamId: string; name: string; value: string };
}

export async function buildWorld(app: TestApp): Promise<World> {
  const org = await app.seed.org("Acme");
  const admin = org.admin.key;
  const ok = (key: string, query: string, variables: Record<string, unknown> = {}) => app.ok(key, query, variables);
  const other = await app.seed.org("Other");
  const inference = await app.seed.team(org, "Inference");
  const research = await app.seed.team(org, "Research");

  const users = {
    orgAdmin: org.admin,
    billingAdmin: await app.seed.member(org, "BILLING_ADMIN", [], "billing"),
    teamAdmin: await app.seed.member(org, "MEMBER", [{ teamId: inference, role: "ADMIN" }], "team-admin"),
    writer: await app.seed.member(org, "MEMBER", [{ teamId: inference, role: "MEMBER" }], "writer"),
    operator: await app.seed.member(org, "MEMBER", [{ teamId: inference, role: "OPERATOR" }, { teamId: research, role: "VIEWER" }], "operator"),
    viewer: await app.seed.member(org, "MEMBER", [{ teamId: inference, role: "VIEWER" }], "viewer"),
    grantee: await app.seed.member(org, "MEMBER", [{ teamId: inference, role: "MEMBER" }], "grantee"),
    roleHolder: await app.seed.member(org, "MEMBER", [], "role-holder"),
    chainGuest: await app.seed.member(org, "MEMBER", [], "chain-guest"),
    defaultTeamMember: await app.seed.member(org, "MEMBER", null, "default-team"),
    otherOrgAdmin: other.admin,
  };

  const role = await ok(admin, `mutation($o: ID!, $p: [String!]!) { createRole(organizationId: $o, name: "Invoker", permissions: $p) { id } }`, {
    o: org.orgId, p: ["team:view", "models:invoke", "metrics:read"],
  });
  await ok(admin, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, {
    r: role.createRole.id, t: research, p: users.roleHolder.userId,
  });

  const model = async (teamId: string, name: string) => (await ok(admin, `mutation($t: ID!, $n: String!) { createModel(teamId: $t, name: $n) { id } }`, { t: teamId, n: name })).createModel.id as string;
  const environment = async (teamId: string, name: string, restricted: boolean) =>
    (await ok(admin, `mutation($t: ID!, $n: String!, $r: Boolean) { createEnvironment(teamId: $t, name: $n, restricted: $r) { id } }`, { t: teamId, n: name, r: restricted })).createEnvironment.id as string;
  const models = {
    llama: { id: await model(inference, "llama"), teamId: inference },
    mistral: { id: await model(inference, "mistral"), teamId: inference },
    bert: { id: await model(research, "bert"), teamId: research },
  };
  const staging = await environment(inference, "staging", false);
  const prod = await environment(inference, "prod", true);
  const dev = await environment(research, "dev", false);
  await ok(admin, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: prod, p: users.grantee.userId });
  const deploy = (teamId: string, modelName: string, environmentName: string) =>
    ok(admin, `mutation($t: ID!, $m: String!, $e: String!) { deployModel(input: { teamId: $t, modelName: $m, environment: $e, config: { replicas: 1 } }) { version } }`, { t: teamId, m: modelName, e: environmentName });
  await deploy(inference, "llama", "staging");
  await deploy(inference, "llama", "prod");
  await deploy(inference, "mistral", "staging");
  await deploy(research, "bert", "dev");

  const chain = (await ok(admin, `mutation($t: ID!) { createChain(teamId: $t, name: "triage", definition: { steps: [] }) { id } }`, { t: inference })).createChain.id as string;
  await ok(admin, `mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: RUNNER) { id } }`, { c: chain, u: users.chainGuest.userId });

  const secret = { teamId: inference, name: "HF_TOKEN", value: "hf_value_only_the_restored_key_can_open" };
  await ok(admin, `mutation($t: ID!, $n: String!, $v: String!) { setSecret(teamId: $t, name: $n, value: $v) { version } }`, { t: secret.teamId, n: secret.name, v: secret.value });

  const apiKey = async (key: string, input: Record<string, unknown>) => (await ok(key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id } } }`, { i: input })).createApiKey;
  const revoked = await apiKey(users.operator.key, { name: "revoked" });
  await ok(users.operator.key, `mutation($k: ID!) { revokeApiKey(id: $k) { id } }`, { k: revoked.apiKey.id });
  const serviceAccount = await ok(admin, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "bot", role: OPERATOR) { secret } }`, { t: inference });
  const keys = {
    writerSecondPersonal: (await apiKey(users.writer.key, { name: "laptop" })).secret,
    teamInferenceProd: (await apiKey(users.teamAdmin.key, { name: "prod", teamId: inference, type: "INFERENCE_ONLY", environmentIds: [prod] })).secret,
    teamFullStaging: (await apiKey(admin, { name: "staging", teamId: inference, type: "FULL_ACCESS", environmentIds: [staging] })).secret,
    teamInferenceLlama: (await apiKey(admin, { name: "llama", teamId: inference, type: "INFERENCE_ONLY", modelIds: [models.llama.id] })).secret,
    teamMetricsResearch: (await apiKey(admin, { name: "dash", teamId: research, type: "METRICS_ONLY" })).secret,
    serviceAccount: serviceAccount.createServiceAccount.secret,
    revoked: revoked.secret,
  };

  const principals: Record<string, string> = { ...Object.fromEntries(Object.entries(users).map(([name, user]) => [name, user.key])), ...keys };
  const objects: World["objects"] = [
    { name: "org Acme", id: org.orgId, kind: "organization" },
    { name: "org Other", id: other.orgId, kind: "organization" },
    { name: "team Acme default", id: org.defaultTeamId, kind: "team" },
    { name: "team Inference", id: inference, kind: "team" },
    { name: "team Research", id: research, kind: "team" },
    { name: "team Other default", id: other.defaultTeamId, kind: "team" },
    ...Object.entries(models).map(([name, { id }]) => ({ name: `model ${name}`, id, kind: "model" as const })),
    { name: "environment staging", id: staging, kind: "environment" },
    { name: "environment prod (restricted)", id: prod, kind: "environment" },
    { name: "environment dev", id: dev, kind: "environment" },
    { name: "chain triage", id: chain, kind: "chain" },
  ];
  return { principals, objects, models, environmentNames: ["staging", "prod", "dev"], secret };
}

/** How many permission answers `recordPermissions` gives: every principal × object × catalog permission on it. */
export const permissionAnswerCount = (world: World) =>
  Object.keys(world.principals).length * world.objects.reduce((sum, object) => sum + permissionsOf(object.kind).length, 0);

/**
 * "principal × object × permission" → "allowed" | "denied" (| "denied: CODE" when the object
 * is not even visible, or the credential is refused), from `viewerPermissions(on:)`.
 */
export async function recordPermissions(app: TestApp, world: World): Promise<Record<string, string>> {
  const answers: Record<string, string> = {};
  for (const [principal, key] of Object.entries(world.principals)) {
    for (const object of world.objects) {
      const result = await app.gql<{ viewerPermissions: string[] }>(key, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: object.id });
      const refusal = result.errors?.[0]?.extensions?.code;
      if (!refusal && !result.data) throw new Error(`viewerPermissions answered neither data nor a coded error: ${JSON.stringify(result)}`);
      for (const permission of permissionsOf(object.kind)) {
        const held = result.data?.viewerPermissions.includes(permission.name);
        answers[`${principal} × ${object.name} × ${permission.name}`] = refusal ? `denied: ${refusal}` : held ? "allowed" : "denied";
      }
    }
  }
  return answers;
}

/** "key × action × model × environment" → the gateway's HTTP status (200 allowed, 403 denied, 401 bad key) and reason. */
export async function recordGatewayDecisions(app: TestApp, world: World): Promise<Record<string, string>> {
  const answers: Record<string, string> = {};
  for (const [principal, key] of Object.entries(world.principals)) {
    for (const action of Object.keys(GATEWAY_ACTIONS)) {
      for (const [model, { id, teamId }] of Object.entries(world.models)) {
        for (const environment of world.environmentNames) {
          const { status, body } = await authorize(app, key, { action, team: teamId, model: id, environment });
          answers[`${principal} × ${action} × ${model} × ${environment}`] = body.reason ? `${status}: ${body.reason}` : String(status);
        }
      }
    }
  }
  return answers;
}

/** The secret's value as the running server's key opens it from its row. */
export async function openSecret(app: TestApp, world: World): Promise<string> {
  const { teamId, name } = world.secret;
  const row = await app.orgraph.deps.db.selectFrom("secrets").select("ciphertext").where("team_id", "=", teamId).where("name", "=", name).executeTakeFirstOrThrow();
  return app.orgraph.deps.secretBox.open(row.ciphertext, secretContext(teamId, name));
}
