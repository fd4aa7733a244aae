import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";
import { ALL_TEAM_ROLES, ORG_PERMS, TEAM_PERMS, type OrgRole, type TeamRole } from "./helpers/spec-permissions.js";

/**
 * A reference model of PRODUCT.md §3–§5, written from the spec alone (no SpiceDB, no
 * catalog import), run side by side with Orgraph over random operation sequences: after
 * every step, each user's viewerPermissions on each object must equal the model's.
 * ORGRAPH_LONG_TESTS=1 runs ten times as many sequences.
 */
const ALL = ALL_TEAM_ROLES;

class ReferenceModel {
  orgRole = new Map<string, OrgRole>();
  teamRole = new Map<string, TeamRole>(); // `${team}|${user}`
  restricted = new Map<string, boolean>(); // env → restricted
  grantees = new Set<string>(); // `${env}|${user}`

  /** The permission names a user holds on an object, or "NOT_FOUND". */
  permissions(user: string, object: { kind: "org" } | { kind: "team"; team: string } | { kind: "env"; team: string; env: string }): string[] | "NOT_FOUND" {
    const orgRole = this.orgRole.get(user)!;
    if (object.kind === "org") return Object.entries(ORG_PERMS).filter(([, r]) => r.includes(orgRole)).map(([p]) => p).sort();
    const role: TeamRole | undefined = orgRole === "ADMIN" ? "ADMIN" : this.teamRole.get(`${object.team}|${user}`);
    if (object.kind === "team") {
      if (!role) return orgRole === "BILLING_ADMIN" ? [] : "NOT_FOUND"; // billing admins see team names only
      return Object.entries(TEAM_PERMS).filter(([, r]) => r.includes(role)).map(([p]) => p).sort();
    }
    if (!role) return "NOT_FOUND";
    const writes = role === "ADMIN" || role === "MEMBER";
    const restricted = this.restricted.get(object.env)!;
    const manage = orgRole === "ADMIN" || (writes && (!restricted || this.grantees.has(`${object.env}|${user}`)));
    const invokes = role !== "VIEWER"; // §4 models:invoke: ADMIN, MEMBER, OPERATOR
    return [
      "environment:view",
      "metrics:read",
      ...(invokes ? ["environment:invoke"] : []),
      ...(manage ? ["environment:manage"] : []),
      ...(role === "ADMIN" ? ["environment:manage_access"] : []),
    ].sort();
  }
}

let app: TestApp;
let org: SeededOrg;
let users: SeededMember[];
let run = 0;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  users = [];
  for (let i = 0; i < 3; i++) users.push(await app.seed.member(org, "MEMBER", [], `model-${i}`));
});
afterAll(() => app?.close());

const operation = fc.oneof(
  fc.record({ op: fc.constant("setTeamRole" as const), team: fc.nat(1), user: fc.nat(2), role: fc.constantFrom<TeamRole>(...ALL) }),
  fc.record({ op: fc.constant("removeTeamMember" as const), team: fc.nat(1), user: fc.nat(2) }),
  fc.record({ op: fc.constant("setOrgRole" as const), user: fc.nat(2), role: fc.constantFrom<OrgRole>("ADMIN", "BILLING_ADMIN", "MEMBER") }),
  fc.record({ op: fc.constant("restrict" as const), team: fc.nat(1), restricted: fc.boolean() }),
  fc.record({ op: fc.constant("grant" as const), team: fc.nat(1), user: fc.nat(2), grant: fc.boolean() }),
);

describe("Orgraph agrees with a reference model of the spec's tables", () => {
  it("over random sequences of membership, role, restriction and grant operations", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 8 }), async (operations) => {
        // Each sequence starts from a clean slate: two new teams with one environment each; every user a plain MEMBER.
        const tag = ++run;
        const model = new ReferenceModel();
        const teams: string[] = [];
        const envs: string[] = [];
        for (let t = 0; t < 2; t++) {
          const team = (await app.ok(org.admin.key, `mutation($o: ID!, $n: String!) { createTeam(organizationId: $o, name: $n) { id } }`, { o: org.orgId, n: `mb-${tag}-${t}` })).createTeam.id;
          const env = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: team })).createEnvironment.id;
          teams.push(team);
          envs.push(env);
          model.restricted.set(env, false);
        }
        for (const user of users) {
          await app.ok(org.admin.key, `mutation($o: ID!, $u: ID!) { setOrgRole(organizationId: $o, userId: $u, role: MEMBER) { role } }`, { o: org.orgId, u: user.userId });
          model.orgRole.set(user.userId, "MEMBER");
        }

        for (const step of operations) {
          await apply(step, teams, envs, model);
          for (const user of users) {
            const expected = [
              model.permissions(user.userId, { kind: "org" }),
              ...teams.map((team) => model.permissions(user.userId, { kind: "team", team })),
              ...teams.map((team, i) => model.permissions(user.userId, { kind: "env", team, env: envs[i]! })),
            ];
            const actual = await Promise.all([org.orgId, ...teams, ...envs].map((on) => viewerPermissions(user.key, on)));
            expect({ step, user: user.userId, actual }).toEqual({ step, user: user.userId, actual: expected });
          }
        }
      }),
      { numRuns: process.env.ORGRAPH_LONG_TESTS ? 2000 : 200 },
    );
  }, 600_000);
});

async function viewerPermissions(key: string, on: string): Promise<string[] | "NOT_FOUND"> {
  const result = await app.gql(key, `query($on: ID!) { viewerPermissions(on: $on) }`, { on });
  if (result.errors) return result.errors[0]!.extensions!.code as "NOT_FOUND";
  return [...(result.data!.viewerPermissions as string[])].sort();
}

type Step = typeof operation extends fc.Arbitrary<infer T> ? T : never;

async function apply(step: Step, teams: string[], envs: string[], model: ReferenceModel): Promise<void> {
  const user = users["user" in step ? step.user : 0]!;
  const team = teams["team" in step ? step.team : 0]!;
  const env = envs["team" in step ? step.team : 0]!;
  const call = (query: string, variables: Record<string, unknown>) => app.ok(org.admin.key, query, variables);
  switch (step.op) {
    case "setTeamRole": {
      const current = model.teamRole.get(`${team}|${user.userId}`);
      const mutation = current ? "setTeamRole" : "addTeamMember";
      await call(`mutation($t: ID!, $u: ID!, $r: TeamRole!) { ${mutation}(teamId: $t, principalId: $u, role: $r) { role } }`, { t: team, u: user.userId, r: step.role });
      model.teamRole.set(`${team}|${user.userId}`, step.role);
      break;
    }
    case "removeTeamMember":
      if (!model.teamRole.has(`${team}|${user.userId}`)) return;
      await call(`mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`, { t: team, u: user.userId });
      model.teamRole.delete(`${team}|${user.userId}`);
      // Removal from a team takes its grants there too.
      model.grantees.delete(`${env}|${user.userId}`);
      break;
    case "setOrgRole":
      await call(`mutation($o: ID!, $u: ID!, $r: OrgRole!) { setOrgRole(organizationId: $o, userId: $u, role: $r) { role } }`, { o: org.orgId, u: user.userId, r: step.role });
      model.orgRole.set(user.userId, step.role);
      break;
    case "restrict":
      await call(`mutation($e: ID!, $r: Boolean!) { setEnvironmentRestricted(id: $e, restricted: $r) { id } }`, { e: env, r: step.restricted });
      model.restricted.set(env, step.restricted);
      break;
    case "grant":
      if (step.grant) {
        await call(`mutation($e: ID!, $u: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $u) { id } }`, { e: env, u: user.userId });
        model.grantees.add(`${env}|${user.userId}`);
      } else if (model.grantees.has(`${env}|${user.userId}`)) {
        await call(`mutation($e: ID!, $u: ID!) { revokeEnvironmentAccess(environmentId: $e, principalId: $u) { id } }`, { e: env, u: user.userId });
        model.grantees.delete(`${env}|${user.userId}`);
      }
      break;
  }
}
