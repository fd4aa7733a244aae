import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { globMatches } from "../src/modules/tool-policy/tool-policy-rules.js";
import { startTestApp, type GraphQLResponse, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

/**
 * The runtime tool policy (issue 14 §3) through real HTTP: GraphQL over the server's own
 * listener, and /v1/authorize with tool, sensitivity and phi. The YAML document and the
 * offline linter: test/tool-policy-document.test.ts.
 */
let app: TestApp;
let org: SeededOrg;
let other: SeededOrg;
let teamId: string;
const users: Record<"ADMIN" | "MEMBER" | "OPERATOR" | "VIEWER" | "BILLING" | "DELEGATE" | "ANALYST", SeededMember> = {} as never;
const keys: Record<"FULL_ACCESS" | "INFERENCE_ONLY" | "METRICS_ONLY" | "SERVICE", string> = {} as never;
let analystRole: string;
let delegateRole: string;
let foreignRole: string;
let serviceAccountId: string;

/** GraphQL over real HTTP. */
async function gql(key: string | undefined, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse> {
  const response = await app.http("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse;
}
const ok = async (key: string, query: string, variables: Record<string, unknown> = {}) => {
  const result = await gql(key, query, variables);
  if (result.errors?.length) throw new Error(JSON.stringify(result.errors));
  return result.data as Record<string, any>;
};
const codes = (r: GraphQLResponse) => (r.errors ?? []).map((e) => e.extensions?.code);

const SET = `mutation($t: ID!, $r: String!, $a: [String!]!, $d: [String!]!, $s: Sensitivity) {
  setToolPolicy(teamId: $t, role: $r, allowedTools: $a, deniedTools: $d, maxSensitivity: $s) { role allowedTools deniedTools maxSensitivity } }`;
const DELETE = `mutation($t: ID!, $r: String!) { deleteToolPolicy(teamId: $t, role: $r) }`;
const PHI = `mutation($t: ID!, $r: [String!]!) { setPhiRoles(teamId: $t, roles: $r) }`;
const DOCUMENT = `mutation($t: ID!, $d: String!) { setToolPolicyDocument(teamId: $t, document: $d) { rules { role } phiRoles document } }`;
const READ = `query($t: ID!) { team(id: $t) { toolPolicy { rules { role allowedTools deniedTools maxSensitivity } phiRoles document } } }`;

const set = (role: string, allowed: string[], denied: string[] = [], sensitivity: string | null = null) =>
  ok(org.admin.key, SET, { t: teamId, r: role, a: allowed, d: denied, s: sensitivity });
const ask = (key: string, fields: Record<string, unknown>) => authorize(app, key, { action: "model:invoke", team: teamId, model: "llm", environment: "prod", ...fields });

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000", RATE_LIMIT_AUTHORIZE_PER_SECOND: "1000000" } });
  org = await app.seed.org();
  other = await app.seed.org("Other");
  teamId = await app.seed.team(org, "Research");
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const) users[role] = await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase());
  users.BILLING = await app.seed.member(org, "BILLING_ADMIN", [], "billing");
  users.DELEGATE = await app.seed.member(org, "MEMBER", [{ teamId, role: "VIEWER" }], "delegate");
  users.ANALYST = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }], "analyst");
  await ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "llm") { id } }`, { t: teamId });
  await ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId });
  const role = async (o: SeededOrg, name: string, permissions: string[]) =>
    (await ok(o.admin.key, `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id } }`, { o: o.orgId, n: name, p: permissions })).createRole.id as string;
  analystRole = await role(org, "analyst", ["team:view"]);
  delegateRole = await role(org, "delegate", ["team:manage_members"]);
  foreignRole = await role(other, "analyst", ["team:view"]);
  const assign = (r: string, p: string) => ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r, t: teamId, p });
  await assign(analystRole, users.ANALYST.userId);
  await assign(delegateRole, users.DELEGATE.userId);
  for (const type of ["FULL_ACCESS", "INFERENCE_ONLY", "METRICS_ONLY"] as const) {
    keys[type] = (await ok(org.admin.key, `mutation($t: ID!, $y: ApiKeyType!) { createApiKey(input: { name: "k", teamId: $t, type: $y }) { secret } }`, { t: teamId, y: type })).createApiKey.secret;
  }
  const account = (await ok(org.admin.key, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "bot", role: OPERATOR) { serviceAccount { id } secret } }`, { t: teamId })).createServiceAccount;
  serviceAccountId = account.serviceAccount.id;
  keys.SERVICE = account.secret;
  await assign(analystRole, serviceAccountId);
});
afterAll(() => app?.close());

describe("tools: allow and deny globs, deny wins, no policy = no tools", () => {
  it("a role with no policy gets no tools (fail closed), and the answer says so", async () => {
    const answer = await ask(users.OPERATOR.key, { tool: "search" });
    expect(answer).toEqual({ status: 403, body: { allowed: false, reason: 'The tool "search" is not allowed by the team\'s tool policy', rule: "no tool policy for the caller's roles (role OPERATOR): no tools" } });
  });

  it("allowed by a glob, with the rule that allowed it; a tool no glob matches is denied", async () => {
    await set("OPERATOR", ["search", "report_*"]);
    expect(await ask(users.OPERATOR.key, { tool: "report_daily" })).toEqual({ status: 200, body: { allowed: true, rule: "role OPERATOR allows report_*" } });
    expect(await ask(users.OPERATOR.key, { tool: "search" })).toEqual({ status: 200, body: { allowed: true, rule: "role OPERATOR allows search" } });
    const denied = await ask(users.OPERATOR.key, { tool: "summarize" });
    expect(denied).toEqual({ status: 403, body: { allowed: false, reason: 'The tool "summarize" is not allowed by the team\'s tool policy', rule: "no role allows summarize (roles: role OPERATOR)" } });
  });

  it("deny wins within a role: `*` allowed, `dangerous_*` denied", async () => {
    await set("MEMBER", ["*"], ["dangerous_*"]);
    expect(await ask(users.MEMBER.key, { tool: "anything.at-all" })).toEqual({ status: 200, body: { allowed: true, rule: "role MEMBER allows *" } });
    expect((await ask(users.MEMBER.key, { tool: "dangerous_rm" })).body).toEqual({ allowed: false, reason: 'The tool "dangerous_rm" is denied by the team\'s tool policy', rule: "role MEMBER denies dangerous_*" });
  });

  it("deny wins across roles: the custom role allows what the team role denies, and is still denied", async () => {
    await set("OPERATOR", ["search", "report_*"], ["report_secret"]);
    await set(analystRole, ["report_*", "export"]);
    expect((await ask(users.ANALYST.key, { tool: "report_secret" })).body).toEqual({ allowed: false, reason: 'The tool "report_secret" is denied by the team\'s tool policy', rule: "role OPERATOR denies report_secret" });
    // …and a tool one role allows that no role denies is allowed (the custom role's rule).
    expect((await ask(users.ANALYST.key, { tool: "export" })).body).toEqual({ allowed: true, rule: "custom role analyst allows export" });
  });

  it("org ADMINs are ADMIN on every team; with no ADMIN policy they get no tools either", async () => {
    expect((await ask(org.admin.key, { tool: "search" })).body.rule).toBe("no tool policy for the caller's roles (role ADMIN): no tools");
    await set("ADMIN", ["*"]);
    expect((await ask(org.admin.key, { tool: "search" })).body).toEqual({ allowed: true, rule: "role ADMIN allows *" });
    expect((await ask(users.ADMIN.key, { tool: "search" })).body).toEqual({ allowed: true, rule: "role ADMIN allows *" });
  });

  it("team keys hold their key type; service-account keys act as the account (team role and custom roles)", async () => {
    expect((await ask(keys.INFERENCE_ONLY, { tool: "search" })).body.rule).toBe("no tool policy for the caller's roles (key type INFERENCE_ONLY): no tools");
    await set("INFERENCE_ONLY", ["search"]);
    expect((await ask(keys.INFERENCE_ONLY, { tool: "search" })).body).toEqual({ allowed: true, rule: "key type INFERENCE_ONLY allows search" });
    expect((await ask(keys.FULL_ACCESS, { tool: "search" })).status).toBe(403);
    // The service account is OPERATOR with the analyst role: OPERATOR's deny still wins.
    expect((await ask(keys.SERVICE, { tool: "export" })).body).toEqual({ allowed: true, rule: "custom role analyst allows export" });
    expect((await ask(keys.SERVICE, { tool: "report_secret" })).body.rule).toBe("role OPERATOR denies report_secret");
  });

  it("a call SpiceDB denies stays denied as before and says nothing about policies", async () => {
    await set("VIEWER", ["*"]);
    const viewer = await ask(users.VIEWER.key, { tool: "search" });
    expect(viewer).toEqual({ status: 403, body: { allowed: false, reason: "Not allowed to invoke this model in this environment" } });
    const metrics = await ask(keys.METRICS_ONLY, { tool: "search" });
    expect(metrics.body).toEqual({ allowed: false, reason: "Not allowed to invoke this model in this environment" });
  });

  it("without tool, sensitivity or phi the policy is not consulted (a plain model call)", async () => {
    expect(await ask(users.OPERATOR.key, {})).toEqual({ status: 200, body: { allowed: true } });
    expect(await ask(keys.FULL_ACCESS, {})).toEqual({ status: 200, body: { allowed: true } });
  });

  it("malformed fields are a 400 naming the field", async () => {
    expect(await ask(users.OPERATOR.key, { tool: "a/b" })).toEqual({ status: 400, body: { error: '"tool" must be a tool name (1-200 letters, digits, _ . : -)' } });
    expect(await ask(users.OPERATOR.key, { tool: "" })).toMatchObject({ status: 400 });
    expect(await ask(users.OPERATOR.key, { sensitivity: "secret" })).toEqual({ status: 400, body: { error: '"sensitivity" must be one of PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED' } });
    expect(await ask(users.OPERATOR.key, { phi: "yes" })).toEqual({ status: 400, body: { error: '"phi" must be true or false' } });
  });
});

describe("sensitivity ceilings and minimum-necessary PHI", () => {
  it("allowed iff some role's ceiling reaches the request's (case-insensitive); no ceiling is PUBLIC only", async () => {
    await set("OPERATOR", ["search"], [], "INTERNAL");
    await set(analystRole, ["export"], [], "CONFIDENTIAL");
    expect((await ask(users.OPERATOR.key, { sensitivity: "internal" })).body).toEqual({ allowed: true, rule: "role OPERATOR reaches INTERNAL" });
    expect((await ask(users.OPERATOR.key, { tool: "search", sensitivity: "CONFIDENTIAL" })).body).toEqual({
      allowed: false, reason: "Data of sensitivity CONFIDENTIAL is above the caller's ceiling", rule: "no role reaches CONFIDENTIAL (role OPERATOR reaches INTERNAL)",
    });
    expect((await ask(users.ANALYST.key, { tool: "search", sensitivity: "Confidential" })).body).toEqual({ allowed: true, rule: "role OPERATOR allows search; custom role analyst reaches CONFIDENTIAL" });
    expect((await ask(users.ANALYST.key, { sensitivity: "RESTRICTED" })).status).toBe(403);
    // The MEMBER rule has no ceiling: PUBLIC only.
    expect((await ask(users.MEMBER.key, { sensitivity: "PUBLIC" })).body).toEqual({ allowed: true, rule: "PUBLIC needs no ceiling" });
    expect((await ask(users.MEMBER.key, { sensitivity: "INTERNAL" })).body.rule).toBe("no role reaches INTERNAL (no role has a ceiling: PUBLIC only)");
  });

  it("PHI fails closed: while minimum-necessary is off it takes a role whose ceiling is above PUBLIC; once on, only the listed roles", async () => {
    expect((await ask(users.MEMBER.key, { phi: true })).body).toEqual({
      allowed: false,
      reason: "PHI needs a role whose tool policy reaches above PUBLIC",
      rule: "minimum necessary is off and no role of the caller has a ceiling above PUBLIC (roles: role MEMBER)",
    });
    // A key type with no policy at all (red-team finding: it used to pass).
    expect((await ask(keys.FULL_ACCESS!, { phi: true })).body.rule).toMatch(/no role of the caller has a ceiling above PUBLIC/);
    const analyst = await ask(users.ANALYST.key, { phi: true });
    expect(analyst.status).toBe(200);
    expect(analyst.body.rule).toMatch(/^minimum necessary is off: PHI bounded by sensitivity \(.* reaches (CONFIDENTIAL|RESTRICTED|INTERNAL)\)/);
    expect((await ok(org.admin.key, PHI, { t: teamId, r: [analystRole, "admin"] })).setPhiRoles).toEqual(["ADMIN", analystRole].sort());
    expect((await ask(users.MEMBER.key, { phi: true })).body).toEqual({ allowed: false, reason: "PHI is restricted to the team's minimum-necessary roles", rule: "minimum necessary: no role of the caller may touch PHI (roles: role MEMBER)" });
    expect((await ask(users.ANALYST.key, { phi: true, sensitivity: "CONFIDENTIAL" })).body).toEqual({ allowed: true, rule: "custom role analyst reaches CONFIDENTIAL; minimum necessary: custom role analyst may touch PHI" });
    expect((await ask(org.admin.key, { phi: true })).status).toBe(200);
    expect(await ask(users.MEMBER.key, { phi: false })).toEqual({ status: 200, body: { allowed: true, rule: "not PHI: minimum necessary does not apply" } });
    expect((await ok(org.admin.key, PHI, { t: teamId, r: [] })).setPhiRoles).toEqual([]);
    expect((await ask(users.ANALYST.key, { phi: true })).status).toBe(200);
    expect((await ask(users.MEMBER.key, { phi: true })).status).toBe(403);
  });
});

describe("globs: * and ? only, matched in linear time; deny globs ignore case", () => {
  it("matches as a glob does", () => {
    const cases: [string, string, boolean][] = [
      ["*", "anything.at-all", true], ["report_*", "report_daily", true], ["report_*", "report_", true], ["report_*", "xreport_daily", false],
      ["*_rm", "dangerous_rm", true], ["d?ngerous_*", "dangerous_rm", true], ["d?ngerous_*", "dngerous_rm", false], ["a*b*c", "aXXbYYc", true],
      ["a*b*c", "aXXbYY", false], ["search", "search", true], ["search", "searches", false], ["**", "", true], ["*a*a*a*a*a*a*a*a*a*a*a*a*a*ab", "a".repeat(200), false],
    ];
    for (const [glob, tool, expected] of cases) expect([glob, tool, globMatches(glob, tool)]).toEqual([glob, tool, expected]);
    expect(globMatches("delete_*", "DELETE_users", true)).toBe(true);
    expect(globMatches("delete_*", "DELETE_users")).toBe(false);
  });

  it("a glob built to backtrack (red-team: 47 s for one decision with picomatch) is answered like any other", async () => {
    await set("MEMBER", ["*"], ["*a*a*a*a*a*a*a*a*a*a*a*a*a*ab"]);
    expect((await ask(users.MEMBER.key, { tool: "a".repeat(200) })).status).toBe(200);
    expect((await ask(users.MEMBER.key, { tool: `${"a".repeat(190)}ab` })).status).toBe(403);
  });

  it("a deny glob ignores case: `delete_*` denies DELETE_users; allow globs match exactly", async () => {
    await set("MEMBER", ["*"], ["delete_*"]);
    expect((await ask(users.MEMBER.key, { tool: "DELETE_users" })).body).toMatchObject({ allowed: false, rule: "role MEMBER denies delete_*" });
    await set("MEMBER", ["Search"]);
    expect((await ask(users.MEMBER.key, { tool: "search" })).status).toBe(403);
    await set("MEMBER", ["*"], ["dangerous_*"]); // as the tests below expect it
  });

  it("brackets, braces and extglobs are refused", async () => {
    for (const glob of ["[ab]*", "{a,b}", "+(a|b)", "!(x)"]) {
      const answer = await gql(org.admin.key, `mutation($t: ID!, $a: [String!]!) { setToolPolicy(teamId: $t, role: "MEMBER", allowedTools: $a, deniedTools: []) { role } }`, { t: teamId, a: [glob] });
      expect(answer.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    }
  });
});

describe("reading and changing the policy", () => {
  it("Team.toolPolicy shows the rules (custom roles by id) and the document (by name) to whoever views the team", async () => {
    const policy = (await ok(users.VIEWER.key, READ, { t: teamId })).team.toolPolicy;
    expect(policy.rules.map((r: { role: string }) => r.role)).toEqual(["ADMIN", "INFERENCE_ONLY", "MEMBER", "OPERATOR", "VIEWER", analystRole].sort());
    expect(policy.rules.find((r: { role: string }) => r.role === "MEMBER")).toEqual({ role: "MEMBER", allowedTools: ["*"], deniedTools: ["dangerous_*"], maxSensitivity: null });
    expect(policy.document).toContain("  analyst:\n    allowed_tools:\n      - export\n");
    expect(policy.document).toContain("data_access:\n  OPERATOR:\n    max_sensitivity: internal\n");
    const stranger = await gql(other.admin.key, READ, { t: teamId });
    expect(codes(stranger)).toEqual(["NOT_FOUND"]);
  });

  it("deleteToolPolicy removes a rule: that role has no tools again", async () => {
    expect((await ok(org.admin.key, DELETE, { t: teamId, r: "INFERENCE_ONLY" })).deleteToolPolicy).toBe(true);
    expect((await ask(keys.INFERENCE_ONLY, { tool: "search" })).status).toBe(403);
    expect((await ok(org.admin.key, DELETE, { t: teamId, r: "INFERENCE_ONLY" })).deleteToolPolicy).toBe(false);
  });

  it("input is validated: glob syntax, list and glob sizes, roles (another org's custom role answers as a nonexistent one)", async () => {
    const bad = async (vars: Record<string, unknown>) => {
      const r = await gql(org.admin.key, SET, { t: teamId, r: "MEMBER", a: [], d: [], ...vars });
      return { code: codes(r)[0], message: r.errors?.[0]?.message };
    };
    expect(await bad({ a: ["[abc"] })).toEqual({ code: "BAD_USER_INPUT", message: 'allowedTools: [0] "[abc" is not a valid glob (only letters, digits, _ . : - and the wildcards * and ?)' });
    expect(await bad({ d: ["a b"] })).toMatchObject({ code: "BAD_USER_INPUT", message: expect.stringMatching(/^deniedTools: \[0\]/) });
    expect(await bad({ a: ["x".repeat(201)] })).toEqual({ code: "BAD_USER_INPUT", message: "allowedTools: [0] a glob is at most 200 characters" });
    expect(await bad({ a: Array.from({ length: 101 }, (_, i) => `t${i}`) })).toEqual({ code: "BAD_USER_INPUT", message: "allowedTools: at most 100 globs" });
    const foreign = await bad({ r: foreignRole });
    const ghost = await bad({ r: `role_${"0".repeat(28)}` });
    expect(foreign).toEqual({ code: "BAD_USER_INPUT", message: "role: no such role (a built-in team role, an API key type, or the id of a custom role of the team's organization)" });
    expect(ghost).toEqual(foreign);
    expect(await bad({ r: "SUPERUSER" })).toEqual(foreign);
    const phi = await gql(org.admin.key, PHI, { t: teamId, r: ["MEMBER", foreignRole] });
    expect({ code: codes(phi)[0], message: phi.errors?.[0]?.message }).toEqual({ code: "BAD_USER_INPUT", message: foreign.message!.replace(/^role:/, "roles[1]:") });
  });

  it("team ADMINs and org ADMINs may set it; MEMBERs, team:manage_members holders, BILLING_ADMINs and keys of each type may not; another org's team is nonexistent", async () => {
    const attempts = (key: string, t = teamId) => [
      gql(key, SET, { t, r: "MEMBER", a: ["*"], d: ["dangerous_*"], s: null }),
      gql(key, DELETE, { t, r: "VIEWER" }),
      gql(key, PHI, { t, r: [] }),
      gql(key, DOCUMENT, { t, d: "roles:\n  VIEWER:\n    allowed_tools: ['*']\n" }),
    ];
    for (const key of [users.ADMIN.key, org.admin.key]) expect((await Promise.all(attempts(key))).map(codes)).toEqual([[], [], [], []]);
    for (const [who, key] of [["MEMBER", users.MEMBER.key], ["delegate", users.DELEGATE.key], ["FULL_ACCESS", keys.FULL_ACCESS], ["service account", keys.SERVICE]]) {
      expect({ who, codes: (await Promise.all(attempts(key!))).map(codes) }).toEqual({ who, codes: [["FORBIDDEN"], ["FORBIDDEN"], ["FORBIDDEN"], ["FORBIDDEN"]] });
    }
    // Without team:view the team is invisible: NOT_FOUND, as for a team that does not exist.
    for (const [who, key] of [["BILLING_ADMIN", users.BILLING.key], ["INFERENCE_ONLY", keys.INFERENCE_ONLY], ["METRICS_ONLY", keys.METRICS_ONLY], ["other org's ADMIN", other.admin.key]]) {
      const mine = (await Promise.all(attempts(key!))).map((r) => JSON.stringify(r.errors?.map((e) => [e.extensions?.code, e.message])));
      const ghost = (await Promise.all(attempts(key!, `team_${"0".repeat(28)}`))).map((r) => JSON.stringify(r.errors?.map((e) => [e.extensions?.code, e.message])));
      expect({ who, mine }).toEqual({ who, mine: ghost });
      expect({ who, codes: mine.map((m) => JSON.parse(m)[0][0]) }).toEqual({ who, codes: ["NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND"] });
    }
  });

  it("each change is audited under its action, with the team and a diff; refusals too", async () => {
    const events = await app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("action", "like", "tool_policy.%").execute();
    const byAction = (action: string, result: string) => events.filter((e) => e.action === action && e.result === result);
    for (const action of ["tool_policy.set", "tool_policy.delete", "tool_policy.phi_roles_set", "tool_policy.document_set"]) {
      expect({ action, ok: byAction(action, "SUCCESS").length > 0, denied: byAction(action, "DENIED").length > 0 }).toEqual({ action, ok: true, denied: true });
      for (const e of byAction(action, "SUCCESS")) expect({ action, team: e.team_id, target: e.target_id, org: e.org_id }).toEqual({ action, team: teamId, target: teamId, org: org.orgId });
    }
    const phi = byAction("tool_policy.phi_roles_set", "SUCCESS")[0]!;
    expect(phi.diff).toEqual({ phiRoles: { before: [], after: ["ADMIN", analystRole] } });
    const set = byAction("tool_policy.set", "SUCCESS").find((e) => (e.diff as { role: string }).role === "OPERATOR")!;
    expect(set.diff).toMatchObject({ role: "OPERATOR", before: null, after: { allowedTools: ["search", "report_*"], deniedTools: [], maxSensitivity: null } });
  });
});
