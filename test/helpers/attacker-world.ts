import { hashSecret } from "../../src/auth/secrets.js";
import type { TestApp } from "./app.js";
import { seedDeployments } from "./attacker-steps-deployments.js";
import { Reference, type KeyType, type OrgRole, type Principal, type TeamRole } from "./attacker-reference.js";
import { seedChainRuns } from "./attacker-steps-chain-runs.js";

/**
 * Builds the attacker model test's world through the API, the way users would, and records
 * it in a Reference. Two organizations, each: the default team (T1) and a second team (T2);
 * on T1 environments `dev` (open) and `prod` (restricted), a model deployed to dev, a
 * training project (attacker-steps-deployments.ts records both) and three chains, the
 * last shared with a VIEWER of T2; a custom role (members and keys management plus a few
 * views) assigned on T1. Organization A holds every kind of principal; organization B the
 * same objects and a smaller cast (a stranger to A in every role that matters).
 */
export const DELEGATE_PERMS = ["team:view", "metrics:read", "team:manage_members", "team:manage_keys"];

let worldCounter = 0;

export async function buildWorld(app: TestApp): Promise<Reference> {
  const ref = new Reference();
  const tag = ++worldCounter;
  for (const [index, full] of [true, false].entries()) await buildOrg(app, ref, `${tag}-${index}`, full);
  // The key behind each user's and service account's secret, for rotateApiKey (attacker-steps-key-lifecycle.ts).
  for (const p of ref.principals.filter((x) => x.kind !== "API_KEY")) {
    const row = await app.orgraph.deps.db.selectFrom("api_keys").select("id").where("secret_hash", "=", hashSecret(p.secret)).executeTakeFirstOrThrow();
    p.keyId = row.id;
  }
  return ref;
}

async function buildOrg(app: TestApp, ref: Reference, tag: string, full: boolean): Promise<void> {
  const seeded = await app.seed.org(`world-${tag}`);
  const org = seeded.orgId;
  const admin = seeded.admin.key;
  const call = (query: string, variables: Record<string, unknown>) => app.ok(admin, query, variables);
  const who = (label: string) => `${label}@${tag}`;

  ref.objects.set(org, { id: org, kind: "org", org });
  const t1 = seeded.defaultTeamId;
  ref.objects.set(t1, { id: t1, kind: "team", org, team: t1, isDefault: true });
  const t2 = (await call(`mutation($o: ID!, $n: String!) { createTeam(organizationId: $o, name: $n) { id } }`, { o: org, n: "second" })).createTeam.id;
  ref.objects.set(t2, { id: t2, kind: "team", org, team: t2 });
  ref.principals.push({ id: seeded.admin.userId, kind: "USER", label: who("creator"), secret: admin, email: seeded.admin.email });
  ref.orgRole.set(`${org}|${seeded.admin.userId}`, "ADMIN");
  ref.teamRole.set(`${t1}|${seeded.admin.userId}`, "ADMIN"); // the creator is ADMIN of the default team
  const envs: string[] = [];

  for (const [name, restricted] of [["dev", false], ["prod", true]] as const) {
    const env = (await call(`mutation($t: ID!, $n: String!, $r: Boolean) { createEnvironment(teamId: $t, name: $n, restricted: $r) { id } }`, { t: t1, n: name, r: restricted })).createEnvironment.id;
    ref.objects.set(env, { id: env, kind: "env", org, team: t1 });
    ref.restricted.set(env, restricted);
    envs.push(env);
  }
  const model = (await call(`mutation($t: ID!) { createModel(teamId: $t, name: "llm") { id } }`, { t: t1 })).createModel.id;
  ref.objects.set(model, { id: model, kind: "model", org, team: t1 });
  await seedDeployments(app, ref, { admin, team: t1, model, envs: { dev: envs[0]!, prod: envs[1]! } });
  await call(`mutation($t: ID!) { setSecret(teamId: $t, name: "TOKEN", value: "s3cret") { name } }`, { t: t1 });
  const chains: string[] = [];
  for (let i = 0; i < 3; i++) {
    const definition = { steps: [{ call: "llm", token: { $secret: "TOKEN" } }] };
    const chain = (await call(`mutation($t: ID!, $n: String!, $d: JSON) { createChain(teamId: $t, name: $n, definition: $d) { id } }`, { t: t1, n: `chain-${i}`, d: definition })).createChain.id;
    ref.objects.set(chain, { id: chain, kind: "chain", org, team: t1 });
    chains.push(chain);
  }
  await seedChainRuns(app, ref, admin, seeded.admin.userId, chains);

  const member = async (label: string, role: OrgRole, teams: { team: string; role: TeamRole }[]) => {
    const email = `${label}-${tag}-${process.pid}@attacker.test`;
    const invited = await call(`mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token } }`, {
      i: { organizationId: org, email, role, teams: teams.map((t) => ({ teamId: t.team, role: t.role })) },
    });
    const accepted = await app.ok(undefined, `mutation($t: String!) { acceptInvitation(token: $t) { user { id } secret } }`, { t: invited.inviteMember.token });
    const user: Principal = { id: accepted.acceptInvitation.user.id, kind: "USER", label: who(label), secret: accepted.acceptInvitation.secret, email };
    ref.principals.push(user);
    ref.orgRole.set(`${org}|${user.id}`, role);
    for (const t of teams) ref.teamRole.set(`${t.team}|${user.id}`, t.role);
    return user;
  };
  const key = async (label: string, type: KeyType, scope: { environmentIds?: string[]; modelIds?: string[] } = {}) => {
    const created = await call(`mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }`, { i: { name: label, teamId: t1, type, ...scope } });
    ref.principals.push({
      id: created.createApiKey.apiKey.id, kind: "API_KEY", label: who(label), secret: created.createApiKey.secret,
      team: t1, keyType: type, envScope: scope.environmentIds, modelScope: scope.modelIds,
    });
  };

  await member("t1-admin", "MEMBER", [{ team: t1, role: "ADMIN" }]);
  await member("t1-viewer", "MEMBER", [{ team: t1, role: "VIEWER" }]);
  const guest = await member("chain-guest", "MEMBER", [{ team: t2, role: "VIEWER" }]);
  await call(`mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: VIEWER) { id } }`, { c: chains[2], u: guest.id });
  ref.shares.set(`${chains[2]}|${guest.id}`, "VIEWER");
  await key("full-key", "FULL_ACCESS");
  const role = (await call(`mutation($o: ID!, $p: [String!]!) { createRole(organizationId: $o, name: "delegate", permissions: $p) { id } }`, { o: org, p: DELEGATE_PERMS })).createRole.id;
  ref.rolePerms.set(role, { org, perms: DELEGATE_PERMS });
  if (!full) return;

  await member("org-admin", "ADMIN", []);
  await member("billing", "BILLING_ADMIN", []);
  await member("t1-member", "MEMBER", [{ team: t1, role: "MEMBER" }]);
  await member("t1-operator", "MEMBER", [{ team: t1, role: "OPERATOR" }]);
  const delegate = await member("delegate", "MEMBER", []);
  await call(`mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: t1, p: delegate.id });
  ref.assignments.add(`${role}|${t1}|${delegate.id}`);
  await key("inference-key", "INFERENCE_ONLY");
  await key("metrics-key", "METRICS_ONLY");
  await key("dev-key", "FULL_ACCESS", { environmentIds: envs.slice(0, 1) });
  await key("llm-key", "INFERENCE_ONLY", { modelIds: [model] });
  const sa = await call(`mutation($t: ID!) { createServiceAccount(teamId: $t, name: "robot", role: MEMBER) { serviceAccount { id } secret } }`, { t: t1 });
  ref.principals.push({ id: sa.createServiceAccount.serviceAccount.id, kind: "SERVICE_ACCOUNT", label: who("robot"), secret: sa.createServiceAccount.secret, team: t1 });
  ref.teamRole.set(`${t1}|${sa.createServiceAccount.serviceAccount.id}`, "MEMBER");
}
