import { generateKeyPairSync } from "node:crypto";
import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Every mutation of the schema, run once, leaves its audit event: a stable dotted action,
 * the actor and how it authenticated, the organization, a target and the result.
 */
let app: TestApp;
let org: SeededOrg;
const ran = new Map<string, string>(); // mutation field → expected action

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  const o = org.orgId;
  const step = async (field: string, action: string, query: string, variables: Record<string, unknown> = {}, key: string | null = org.admin.key) => {
    const data = await app.ok(key ?? undefined, query, variables);
    ran.set(field, action);
    return data[field];
  };
  await step("renameOrganization", "organization.rename", `mutation($o: ID!) { renameOrganization(id: $o, name: "Audited") { id } }`, { o });
  await step("setBillingEmail", "organization.set_billing_email", `mutation($o: ID!) { setBillingEmail(organizationId: $o, email: "ap@example.test") { id } }`, { o });
  const team = (await step("createTeam", "team.create", `mutation($o: ID!) { createTeam(organizationId: $o, name: "T") { id } }`, { o })).id;
  // An empty list: the test app's requests come from no known address, which any non-empty list would lock out.
  await step("setIpAllowlist", "ip_allowlist.set", `mutation($t: ID!) { setIpAllowlist(scopeId: $t, cidrs: []) }`, { t: team });
  await step("renameTeam", "team.rename", `mutation($t: ID!) { renameTeam(id: $t, name: "T2") { id } }`, { t: team });
  await step("setToolPolicy", "tool_policy.set", `mutation($t: ID!) { setToolPolicy(teamId: $t, role: "MEMBER", allowedTools: ["search"], deniedTools: [], maxSensitivity: INTERNAL) { role } }`, { t: team });
  await step("setPhiRoles", "tool_policy.phi_roles_set", `mutation($t: ID!) { setPhiRoles(teamId: $t, roles: ["ADMIN"]) }`, { t: team });
  await step("deleteToolPolicy", "tool_policy.delete", `mutation($t: ID!) { deleteToolPolicy(teamId: $t, role: "MEMBER") }`, { t: team });
  await step("setToolPolicyDocument", "tool_policy.document_set", `mutation($t: ID!, $d: String!) { setToolPolicyDocument(teamId: $t, document: $d) { document } }`, { t: team, d: "roles:\n  member:\n    allowed_tools: [search]\n" });
  await step("setTeamLimits", "team.set_limits", `mutation($t: ID!) { setTeamLimits(teamId: $t, requestsPerMinute: 600, monthlyInvocations: 100000) { requestsPerMinute } }`, { t: team });
  const invite = await step("inviteMember", "member.invite", `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "all@example.test", role: MEMBER, teams: [] }) { token } }`, { o });
  const spare = await step("inviteMember", "member.invite", `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "spare@example.test", role: MEMBER }) { invitation { id } } }`, { o });
  await step("revokeInvitation", "member.revoke_invitation", `mutation($i: ID!) { revokeInvitation(id: $i) { status } }`, { i: spare.invitation.id });
  const accepted = await step("acceptInvitation", "member.accept_invitation", `mutation($t: String!) { acceptInvitation(token: $t) { user { id } secret } }`, { t: invite.token }, null);
  const user = accepted.user.id;
  await step("setOrgRole", "member.set_role", `mutation($o: ID!, $u: ID!) { setOrgRole(organizationId: $o, userId: $u, role: BILLING_ADMIN) { role } }`, { o, u: user });
  await step("addTeamMember", "team.member.add", `mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, principalId: $u, role: VIEWER) { role } }`, { t: team, u: user });
  await step("setTeamRole", "team.member.set_role", `mutation($t: ID!, $u: ID!) { setTeamRole(teamId: $t, principalId: $u, role: MEMBER) { role } }`, { t: team, u: user });
  const env = (await step("createEnvironment", "environment.create", `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: team })).id;
  await step("setEnvironmentRestricted", "environment.set_restricted", `mutation($e: ID!) { setEnvironmentRestricted(id: $e, restricted: true) { id } }`, { e: env });
  await step("grantEnvironmentAccess", "environment.access.grant", `mutation($e: ID!, $u: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $u) { id } }`, { e: env, u: user });
  await step("revokeEnvironmentAccess", "environment.access.revoke", `mutation($e: ID!, $u: ID!) { revokeEnvironmentAccess(environmentId: $e, principalId: $u) { id } }`, { e: env, u: user });
  // Just-in-time access: the team MEMBER asks, the admin decides (never the requester).
  const asked = await step("requestAccess", "access_request.request", `mutation($e: ID!) { requestAccess(input: { scopeId: $e, durationMinutes: 60, justification: "hotfix" }) { id } }`, { e: env }, accepted.secret);
  await step("approveAccessRequest", "access_request.approve", `mutation($i: ID!) { approveAccessRequest(id: $i) { status } }`, { i: asked.id });
  // A second request to deny (ADMIN cannot be asked for; the MEMBER holds every other role): a grant on another restricted environment.
  const canary = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "canary", restricted: true) { id } }`, { t: team })).createEnvironment.id;
  const askedRole = await step("requestAccess", "access_request.request", `mutation($e: ID!) { requestAccess(input: { scopeId: $e, durationMinutes: 60, justification: "on call" }) { id } }`, { e: canary }, accepted.secret);
  await step("denyAccessRequest", "access_request.deny", `mutation($i: ID!) { denyAccessRequest(id: $i, reason: "no") { status } }`, { i: askedRole.id });
  const model = (await step("createModel", "model.create", `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: team })).id;
  const deployment = (await step("deployModel", "model.deploy", `mutation($t: ID!) { deployModel(input: { teamId: $t, modelName: "m", environment: "prod" }) { id } }`, { t: team })).id;
  const staging = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: team })).createEnvironment.id;
  const promoted = (await step("promoteDeployment", "deployment.promote", `mutation($d: ID!) { promoteDeployment(id: $d, environment: "staging") { id } }`, { d: deployment })).id;
  await step("scaleDeployment", "deployment.scale", `mutation($d: ID!) { scaleDeployment(id: $d, config: { replicas: 2 }) { id } }`, { d: deployment });
  await step("removeDeployment", "deployment.remove", `mutation($d: ID!) { removeDeployment(id: $d) }`, { d: promoted });
  await step("deleteEnvironment", "environment.delete", `mutation($e: ID!) { deleteEnvironment(id: $e) }`, { e: staging });
  await step("setSecret", "secret.set", `mutation($t: ID!) { setSecret(teamId: $t, name: "S", value: "v") { version } }`, { t: team });
  const chain = (await step("createChain", "chain.create", `mutation($t: ID!) { createChain(teamId: $t, name: "c") { id } }`, { t: team })).id;
  await step("updateChain", "chain.update", `mutation($c: ID!) { updateChain(id: $c, definition: { auth: "none" }) { id } }`, { c: chain });
  const run = (await step("runChain", "chain.run", `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chain })).id;
  await step("updateChainRun", "chain_run.update", `mutation($r: ID!) { updateChainRun(id: $r, status: RUNNING) { id } }`, { r: run });
  await step("updateChainRun", "chain_run.update", `mutation($r: ID!) { updateChainRun(id: $r, status: WAITING_FOR_APPROVAL, decision: "Go on?") { id } }`, { r: run });
  // A second person (the team MEMBER invited above) decides: the starter may not.
  await step("decideChainRun", "chain_run.decide", `mutation($r: ID!) { decideChainRun(id: $r, approve: true, comment: "ok") { id } }`, { r: run }, accepted.secret);
  await step("cancelChainRun", "chain_run.cancel", `mutation($r: ID!) { cancelChainRun(id: $r) { id } }`, { r: run });
  await step("shareChain", "chain.share", `mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: VIEWER) { id } }`, { c: chain, u: user });
  await step("unshareChain", "chain.unshare", `mutation($c: ID!, $u: ID!) { unshareChain(chainId: $c, userId: $u) { id } }`, { c: chain, u: user });
  const project = (await step("createTrainingProject", "training_project.create", `mutation($t: ID!) { createTrainingProject(teamId: $t, name: "p") { id } }`, { t: team })).id;
  await step("deleteTrainingProject", "training_project.delete", `mutation($p: ID!) { deleteTrainingProject(id: $p) }`, { p: project });
  const key = (await step("createApiKey", "api_key.create", `mutation($t: ID!) { createApiKey(input: { name: "k", teamId: $t, type: INFERENCE_ONLY }) { apiKey { id } } }`, { t: team })).apiKey.id;
  await step("rotateApiKey", "api_key.rotate", `mutation($k: ID!) { rotateApiKey(id: $k, graceSeconds: 60) { apiKey { id } } }`, { k: key });
  await step("setKeyPolicy", "organization.set_key_policy", `mutation($o: ID!) { setKeyPolicy(organizationId: $o, maxLifetimeDays: 365, requireExpiry: false) { id } }`, { o });
  await step("revokeApiKey", "api_key.revoke", `mutation($k: ID!) { revokeApiKey(id: $k) { id } }`, { k: key });
  const bot = (await step("createServiceAccount", "service_account.create", `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "bot", role: VIEWER) { serviceAccount { id } } }`, { t: team })).serviceAccount.id;
  await step("deleteServiceAccount", "service_account.delete", `mutation($s: ID!) { deleteServiceAccount(id: $s) }`, { s: bot });
  const role = (await step("createRole", "role.create", `mutation($o: ID!) { createRole(organizationId: $o, name: "R", permissions: ["team:view"]) { id } }`, { o })).id;
  await step("updateRole", "role.update", `mutation($r: ID!) { updateRole(id: $r, permissions: ["audit:read"]) { id } }`, { r: role });
  await step("assignRole", "role.assign", `mutation($r: ID!, $t: ID!, $u: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $u) { role { id } } }`, { r: role, t: team, u: user });
  await step("unassignRole", "role.unassign", `mutation($r: ID!, $t: ID!, $u: ID!) { unassignRole(roleId: $r, teamId: $t, principalId: $u) }`, { r: role, t: team, u: user });
  await step("deleteRole", "role.delete", `mutation($r: ID!) { deleteRole(id: $r) }`, { r: role });
  await step("deleteSecret", "secret.delete", `mutation($t: ID!) { deleteSecret(teamId: $t, name: "S") }`, { t: team });
  await step("deleteChain", "chain.delete", `mutation($c: ID!) { deleteChain(id: $c) }`, { c: chain });
  await step("deleteModel", "model.delete", `mutation($m: ID!) { deleteModel(id: $m) }`, { m: model });
  await step("removeTeamMember", "team.member.remove", `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`, { t: team, u: user });
  await step("removeMember", "member.remove", `mutation($o: ID!, $u: ID!) { removeMember(organizationId: $o, userId: $u) }`, { o, u: user });
  await step("deleteTeam", "team.delete", `mutation($t: ID!) { deleteTeam(id: $t) }`, { t: team });
  const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();
  await step("setSsoConnection", "sso.set_connection", `mutation($o: ID!, $p: String!) { setSsoConnection(organizationId: $o, issuer: "https://idp.audited.test/", audience: "orgraph", publicKeyPem: $p) { id } }`, { o, p: pem });
  await step("setSsoGroupMapping", "sso.set_group_mapping", `mutation($o: ID!) { setSsoGroupMapping(organizationId: $o, group: "eng", orgRole: MEMBER) { group } }`, { o });
  await step("deleteSsoGroupMapping", "sso.delete_group_mapping", `mutation($o: ID!) { deleteSsoGroupMapping(organizationId: $o, group: "eng") }`, { o });
  await step("createOrganization", "organization.create", `mutation { createOrganization(name: "Another") { id } }`);
});
afterAll(() => app?.close());

describe("one audit event per mutation kind", () => {
  it("the scenario ran every mutation of the schema", async () => {
    const schema = await app.ok(org.admin.key, getIntrospectionQuery());
    const mutation = schema.__schema.types.find((t: any) => t.name === "Mutation");
    expect([...ran.keys()].sort()).toEqual(mutation.fields.map((f: any) => f.name).sort());
  });

  it("each wrote its event with action, actor, authentication, organization, target and result", async () => {
    const events = await app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("result", "=", "SUCCESS").execute();
    for (const [field, action] of ran) {
      const event = events.find((e) => e.action === action);
      expect({ field, found: Boolean(event) }).toEqual({ field, found: true });
      expect({ field, orgId: Boolean(event!.org_id), targetId: Boolean(event!.target_id), authMethod: event!.auth_method }).toEqual({
        field,
        orgId: true,
        targetId: true,
        authMethod: field === "acceptInvitation" ? "invitation" : "api_key",
      });
      // The invitee accepts unauthenticated; from then on the request acts as them.
      expect({ field, actor: event!.actor_id }).toEqual({ field, actor: expect.stringMatching(/^usr_/) });
    }
  });
});

describe("auditing is declared with each mutation (graphql/audit-plugin.ts)", () => {
  it("a schema with a mutation that declares no audit action does not build", async () => {
    const { default: SchemaBuilder } = await import("@pothos/core");
    const { auditPlugin } = await import("../src/graphql/audit-plugin.js");
    // Only the audit plugin: the app's other plugins (scope-auth's required options) play no part here.
    const unaudited = new SchemaBuilder<{ Context: object }>({ plugins: [auditPlugin] } as never);
    unaudited.queryType({ fields: (t) => ({ ok: t.boolean({ resolve: () => true }) }) });
    // @ts-expect-error the `audit` option is required on every mutation field
    unaudited.mutationType({ fields: (t) => ({ forget: t.boolean({ resolve: () => true }) }) });
    expect(() => unaudited.toSchema()).toThrow('Mutation.forget declares no audit action (the field option "audit")');
  });

  it("a mutation refused by a scope (signed out) is recorded as DENIED under its declared action", async () => {
    const response = await app.gql(undefined, `mutation($o: ID!) { renameOrganization(id: $o, name: "Nope") { id } }`, { o: org.orgId });
    expect(response.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const denied = await app.orgraph.deps.db
      .selectFrom("security_events")
      .selectAll()
      .where("action", "=", "organization.rename")
      .where("result", "=", "DENIED")
      .execute();
    expect(denied.length).toBeGreaterThan(0);
  });
});
