import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";
import { postFrom } from "./helpers/post-from.js";

/**
 * The Zanzibar "new enemy" problem: once a revocation is acknowledged, the very next request
 * must be refused. Revoke-then-check in a tight loop over four kinds of revocation; a single
 * stale allow fails the test. ORGRAPH_LONG_TESTS=1 runs ten times as many rounds.
 */
const ROUNDS_PER_KIND = (process.env.ORGRAPH_LONG_TESTS ? 2500 : 250);

let app: TestApp;
let org: SeededOrg;
let teamId: string;
let user: SeededMember;
let envId: string;
let chainId: string;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000", RATE_LIMIT_AUTHORIZE_PER_SECOND: "1000000" } });
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Enemies");
  user = await app.seed.member(org, "MEMBER", [], "enemy");
  envId = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod", restricted: true) { id } }`, { t: teamId })).createEnvironment.id;
  await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId });
  chainId = (await app.ok(org.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "c") { id } }`, { t: teamId })).createChain.id;
});
afterAll(() => app?.close());

const admin = (query: string, variables: Record<string, unknown>) => app.ok(org.admin.key, query, variables);

describe(`no stale allow after an acknowledged revocation (${ROUNDS_PER_KIND * 5} rounds)`, () => {
  it("team membership removed", async () => {
    let stale = 0;
    for (let i = 0; i < ROUNDS_PER_KIND; i++) {
      await admin(`mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, principalId: $u, role: VIEWER) { role } }`, { t: teamId, u: user.userId });
      expect(codes(await app.gql(user.key, `query($t: ID!) { team(id: $t) { id } }`, { t: teamId }))).toEqual([]);
      await admin(`mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`, { t: teamId, u: user.userId });
      if (codes(await app.gql(user.key, `query($t: ID!) { team(id: $t) { id } }`, { t: teamId }))[0] !== "NOT_FOUND") stale++;
    }
    expect(stale).toBe(0);
  });

  it("environment grant revoked", async () => {
    const key = (await admin(`mutation($t: ID!) { createApiKey(input: { name: "deployer", teamId: $t, type: FULL_ACCESS }) { secret apiKey { id } } }`, { t: teamId })).createApiKey;
    const manage = { action: "environment:manage", model: "m", environment: "prod" };
    let stale = 0;
    for (let i = 0; i < ROUNDS_PER_KIND; i++) {
      await admin(`mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: envId, p: key.apiKey.id });
      expect((await authorize(app, key.secret, manage)).status).toBe(200);
      await admin(`mutation($e: ID!, $p: ID!) { revokeEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: envId, p: key.apiKey.id });
      if ((await authorize(app, key.secret, manage)).status !== 403) stale++;
    }
    expect(stale).toBe(0);
  });

  it("API key revoked", async () => {
    let stale = 0;
    for (let i = 0; i < ROUNDS_PER_KIND; i++) {
      const key = (await admin(`mutation($t: ID!) { createApiKey(input: { name: "short-lived", teamId: $t, type: INFERENCE_ONLY }) { secret apiKey { id } } }`, { t: teamId })).createApiKey;
      expect((await authorize(app, key.secret, { action: "model:invoke", model: "m", environment: "prod" })).status).toBe(200);
      await admin(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: key.apiKey.id });
      if ((await authorize(app, key.secret, { action: "model:invoke", model: "m", environment: "prod" })).status !== 401) stale++;
    }
    expect(stale).toBe(0);
  });

  it("team budget lowered to (or below) the month's usage", async () => {
    const budgets = await app.seed.team(org, "Budgets");
    await admin(`mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: budgets });
    await admin(`mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: budgets });
    const key = (await admin(`mutation($t: ID!) { createApiKey(input: { name: "budgeted", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: budgets })).createApiKey.secret;
    const invoke = { action: "model:invoke", model: "m", environment: "prod" };
    const setBudget = (month: number) => admin(`mutation($t: ID!, $m: Int) { setTeamLimits(teamId: $t, monthlyInvocations: $m) { monthlyInvocations } }`, { t: budgets, m: month });
    let stale = 0;
    for (let i = 0; i < ROUNDS_PER_KIND; i++) {
      // Round i: i invocations so far; one more is allowed, then the budget drops to the usage (or one below it).
      await setBudget(i + 1);
      expect((await authorize(app, key, invoke)).status).toBe(200);
      await setBudget(Math.max(1, i + 1 - (i % 2)));
      if ((await authorize(app, key, invoke)).status !== 429) stale++;
    }
    expect(stale).toBe(0);
  });

  it("chain unshared", async () => {
    let stale = 0;
    for (let i = 0; i < ROUNDS_PER_KIND; i++) {
      await admin(`mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: RUNNER) { id } }`, { c: chainId, u: user.userId });
      expect(codes(await app.gql(user.key, `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chainId }))).toEqual([]);
      await admin(`mutation($c: ID!, $u: ID!) { unshareChain(chainId: $c, userId: $u) { id } }`, { c: chainId, u: user.userId });
      if (codes(await app.gql(user.key, `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chainId }))[0] !== "NOT_FOUND") stale++;
    }
    expect(stale).toBe(0);
  });
});

describe(`no stale allow after a tool policy is narrowed (${ROUNDS_PER_KIND} rounds)`, () => {
  it("tool policy narrowed (a deny added, the rule deleted, or the document replaced): the very next call with that tool is denied", async () => {
    const key = (await admin(`mutation($t: ID!) { createApiKey(input: { name: "tools", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: teamId })).createApiKey.secret;
    const call = { action: "model:invoke", model: "m", environment: "prod", tool: "search" };
    const set = `mutation($t: ID!, $a: [String!]!, $d: [String!]!) { setToolPolicy(teamId: $t, role: "INFERENCE_ONLY", allowedTools: $a, deniedTools: $d) { role } }`;
    const narrow = [
      () => admin(set, { t: teamId, a: ["*"], d: ["search"] }),
      () => admin(`mutation($t: ID!) { deleteToolPolicy(teamId: $t, role: "INFERENCE_ONLY") }`, { t: teamId }),
      () => admin(`mutation($t: ID!, $d: String!) { setToolPolicyDocument(teamId: $t, document: $d) { document } }`, { t: teamId, d: "roles:\n  inference_only:\n    allowed_tools: [report_*]\n" }),
    ];
    let stale = 0;
    for (let i = 0; i < ROUNDS_PER_KIND; i++) {
      await admin(set, { t: teamId, a: ["search", "report_*"], d: [] });
      expect((await authorize(app, key, call)).status).toBe(200);
      await narrow[i % narrow.length]!();
      if ((await authorize(app, key, call)).status !== 403) stale++;
    }
    expect(stale).toBe(0);
  });
});

describe(`no stale allow after an IP allowlist is narrowed (${ROUNDS_PER_KIND} rounds, real HTTP from two source addresses)`, () => {
  it("the very next request from the removed address is denied: gateway (key) and GraphQL (user)", async () => {
    const url = await app.httpUrl();
    const key = (await admin(`mutation($t: ID!) { createApiKey(input: { name: "ip", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: teamId })).createApiKey.secret;
    await admin(`mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, principalId: $u, role: VIEWER) { role } }`, { t: teamId, u: user.userId });
    const graphql = (from: string, bearer: string, query: string, variables: Record<string, unknown>) =>
      postFrom(from, `${url}/graphql`, { query, variables }, { authorization: `Bearer ${bearer}` });
    // The admin sets lists from 127.0.0.2, which both lists admit; 127.0.0.3 is in the wide one only.
    const setList = async (cidrs: string[]) =>
      expect((await graphql("127.0.0.2", org.admin.key, `mutation($t: ID!, $c: [String!]!) { setIpAllowlist(scopeId: $t, cidrs: $c) }`, { t: teamId, c: cidrs })).json.errors).toBeUndefined();
    const invoke = () => postFrom("127.0.0.3", `${url}/v1/authorize`, { action: "model:invoke", model: "m", environment: "prod" }, { authorization: `Bearer ${key}` });
    const viewTeam = async () => (await graphql("127.0.0.3", user.key, `query($t: ID!) { team(id: $t) { id } }`, { t: teamId })).json.errors?.[0]?.extensions?.code;
    let stale = 0;
    for (let i = 0; i < ROUNDS_PER_KIND; i++) {
      await setList(["127.0.0.0/24"]);
      expect((await invoke()).status).toBe(200);
      expect(await viewTeam()).toBeUndefined();
      await setList(["127.0.0.2/32"]);
      const [gateway, seen] = [await invoke(), await viewTeam()];
      if (gateway.status !== 403 || gateway.json.code !== "IP_NOT_ALLOWED" || seen !== "IP_NOT_ALLOWED") stale++;
    }
    expect(stale).toBe(0);
    await setList([]);
  });
});
