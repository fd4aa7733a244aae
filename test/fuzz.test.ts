import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Property-based fuzzing of mutation arguments: random and unicode strings, huge values,
 * malformed ids and real ids of the wrong type. Only the spec's error codes may come back
 * (never an internal error), and a call that errs changes nothing.
 */
const SPEC_CODES = ["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "AUTHZ_UNAVAILABLE"];
const TABLES = ["organizations", "teams", "org_memberships", "team_memberships", "invitations", "models", "deployments", "environments", "chains", "chain_runs", "secrets", "api_keys", "service_accounts", "roles", "role_assignments", "authz_relationships", "tool_policies", "tool_policy_phi_roles"] as const;

let app: TestApp;
let org: SeededOrg;
let realIds: string[];

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  const teamId = await app.seed.team(org, "Fuzzed");
  const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "VIEWER" }], "fuzz");
  const env = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId })).createEnvironment.id;
  const model = (await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId })).createModel.id;
  const chain = (await app.ok(org.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "c") { id } }`, { t: teamId })).createChain.id;
  realIds = [org.orgId, teamId, org.defaultTeamId, member.userId, org.admin.userId, env, model, chain];
});
afterAll(() => app?.close());

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", " ", "\u0000", "\ud800", "💥".repeat(200), "x".repeat(100_000), "'; drop table teams; --", "{{secrets.X}}", "<script>"),
);
const id = () =>
  fc.oneof(
    fc.constantFrom(...realIds),
    text,
    fc.constantFrom("team_0000000000000000000000000000", "usr_ffffffffffffffffffffffffffff", "org_", "env_zz", "mdl_0000000000000000000000000000"),
  );

const MUTATIONS: { query: string; variables: () => fc.Arbitrary<Record<string, unknown>> }[] = [
  { query: `mutation($n: String!) { createOrganization(name: $n) { id } }`, variables: () => fc.record({ n: text }) },
  { query: `mutation($o: ID!, $n: String!) { createTeam(organizationId: $o, name: $n) { id } }`, variables: () => fc.record({ o: id(), n: text }) },
  { query: `mutation($i: ID!, $n: String!) { renameTeam(id: $i, name: $n) { id } }`, variables: () => fc.record({ i: id(), n: text }) },
  { query: `mutation($i: ID!) { deleteTeam(id: $i) }`, variables: () => fc.record({ i: id() }) },
  { query: `mutation($t: ID!, $p: ID!) { addTeamMember(teamId: $t, principalId: $p, role: VIEWER) { role } }`, variables: () => fc.record({ t: id(), p: id() }) },
  { query: `mutation($o: ID!, $u: ID!) { setOrgRole(organizationId: $o, userId: $u, role: MEMBER) { role } }`, variables: () => fc.record({ o: id(), u: id() }) },
  { query: `mutation($o: ID!, $u: ID!) { removeMember(organizationId: $o, userId: $u) }`, variables: () => fc.record({ o: id(), u: id() }) },
  { query: `mutation($o: ID!, $e: String!) { inviteMember(input: { organizationId: $o, email: $e, role: MEMBER }) { token } }`, variables: () => fc.record({ o: id(), e: text }) },
  { query: `mutation($t: String!) { acceptInvitation(token: $t) { secret } }`, variables: () => fc.record({ t: text }) },
  { query: `mutation($t: ID!, $n: String!) { createEnvironment(teamId: $t, name: $n) { id } }`, variables: () => fc.record({ t: id(), n: text }) },
  { query: `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, variables: () => fc.record({ e: id(), p: id() }) },
  { query: `mutation($t: ID, $m: String!, $e: String!, $c: JSON) { deployModel(input: { teamId: $t, modelName: $m, environment: $e, config: $c }) { id } }`, variables: () => fc.record({ t: id(), m: text, e: text, c: fc.jsonValue() }) },
  { query: `mutation($i: ID!) { deleteModel(id: $i) }`, variables: () => fc.record({ i: id() }) },
  { query: `mutation($t: ID!, $n: String!, $d: JSON) { createChain(teamId: $t, name: $n, definition: $d) { id } }`, variables: () => fc.record({ t: id(), n: text, d: fc.jsonValue() }) },
  { query: `mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: RUNNER) { id } }`, variables: () => fc.record({ c: id(), u: id() }) },
  { query: `mutation($t: ID!, $n: String!, $v: String!) { setSecret(teamId: $t, name: $n, value: $v) { version } }`, variables: () => fc.record({ t: id(), n: text, v: text }) },
  { query: `mutation($t: ID, $n: String!, $e: [ID!]) { createApiKey(input: { name: $n, teamId: $t, type: INFERENCE_ONLY, environmentIds: $e }) { secret } }`, variables: () => fc.record({ t: id(), n: text, e: fc.array(id(), { maxLength: 3 }) }) },
  { query: `mutation($i: ID!) { revokeApiKey(id: $i) { id } }`, variables: () => fc.record({ i: id() }) },
  { query: `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id } }`, variables: () => fc.record({ o: id(), n: text, p: fc.array(text, { maxLength: 3 }) }) },
  {
    query: `mutation($t: ID!, $r: String!, $a: [String!]!, $d: [String!]!) { setToolPolicy(teamId: $t, role: $r, allowedTools: $a, deniedTools: $d) { role } }`,
    variables: () => fc.record({ t: id(), r: fc.oneof(text, fc.constantFrom("MEMBER", "inference_only")), a: fc.array(fc.oneof(text, fc.constantFrom("*", "[a", "a{b", "report_*")), { maxLength: 3 }), d: fc.array(text, { maxLength: 3 }) }),
  },
  { query: `mutation($t: ID!, $r: [String!]!) { setPhiRoles(teamId: $t, roles: $r) }`, variables: () => fc.record({ t: id(), r: fc.array(fc.oneof(text, id()), { maxLength: 3 }) }) },
  {
    query: `mutation($t: ID!, $d: String!) { setToolPolicyDocument(teamId: $t, document: $d) { document } }`,
    variables: () => fc.record({ t: id(), d: fc.oneof(text, fc.constantFrom("roles:\n  x: [", "roles: !!binary aGk=", "a: &a [*a]", "data_access:\n  MEMBER:\n    max_sensitivity: {}", "minimum_necessary: 7", "? [a]\n: b")) }),
  },
];

async function counts(): Promise<Record<string, number>> {
  const db = app.orgraph.deps.db;
  const entries = await Promise.all(
    TABLES.map(async (table) => [table, Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n)] as const),
  );
  return Object.fromEntries(entries);
}

describe("fuzzing every kind of mutation argument", () => {
  it("answers only with the spec's codes, and an error changes nothing", async () => {
    const call = fc.nat(MUTATIONS.length - 1).chain((i) => MUTATIONS[i]!.variables().map((variables) => ({ mutation: MUTATIONS[i]!, variables })));
    await fc.assert(
      fc.asyncProperty(call, fc.constantFrom("admin", "member-less"), async ({ mutation, variables }, who) => {
        const before = await counts();
        const key = who === "admin" ? org.admin.key : undefined;
        const result = await app.gql(key, mutation.query, variables);
        if (result.errors) {
          for (const error of result.errors) expect(SPEC_CODES).toContain(error.extensions?.code);
          expect(await counts()).toEqual(before);
        }
      }),
      { numRuns: process.env.ORGRAPH_LONG_TESTS ? 3000 : 300 },
    );
  }, 600_000);
});
