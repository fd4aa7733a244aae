import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { monthCounterKey } from "../src/modules/gateway/limits.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";
import { freePort } from "./helpers/process.js";

/**
 * Issue 14 §2: setTeamLimits (billing:manage), per-key requestsPerMinute, Team.limits and
 * Team.usage, and their enforcement by POST /v1/authorize (429 + Retry-After + which limit).
 * Everything runs twice: counters in this process (no REDIS_URL), and in the real Redis on
 * 127.0.0.1:6379 (REDIS_URL, as .ci/run starts it).
 */
const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const SET_LIMITS = `mutation($t: ID!, $rpm: Int, $month: Int) { setTeamLimits(teamId: $t, requestsPerMinute: $rpm, monthlyInvocations: $month) { requestsPerMinute monthlyInvocations } }`;
const USAGE = `query($t: ID!) { team(id: $t) { limits { requestsPerMinute monthlyInvocations } usage { periodStart resetsAt invocations budget remaining } } }`;

interface World {
  app: TestApp;
  org: SeededOrg;
  billing: string;
  teamAdmin: string;
  teamMember: string;
  stranger: SeededOrg;
}

/** POST /v1/authorize over real HTTP, with the answer's headers. */
async function authorize(app: TestApp, key: string, body: Record<string, unknown>) {
  const response = await app.http("/v1/authorize", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, retryAfter: response.headers.get("retry-after") };
}

/** A team with model "m" in environment "prod", and a key of it (optionally with its own per-minute limit). */
async function gatewayTeam(w: World, name: string, keyRpm?: number) {
  const team = await w.app.seed.team(w.org, name);
  await w.app.ok(w.org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: team });
  await w.app.ok(w.org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: team });
  const key = await teamKey(w, team, keyRpm);
  return { team, key };
}
async function teamKey(w: World, team: string, rpm?: number, type = "INFERENCE_ONLY") {
  const input = { name: `gw-${Math.random()}`.slice(0, 20), teamId: team, type, ...(rpm ? { requestsPerMinute: rpm } : {}) };
  return (await w.app.ok(w.org.admin.key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { requestsPerMinute } } }`, { i: input })).createApiKey.secret as string;
}
const invoke = (w: World, key: string) => authorize(w.app, key, { action: "model:invoke", model: "m", environment: "prod" });
const statuses = async (w: World, key: string, n: number) => {
  const answers: number[] = [];
  for (let i = 0; i < n; i++) answers.push((await invoke(w, key)).status);
  return answers;
};

/** Per-minute windows are calendar minutes: start a sequence with at least 15 s of its minute left. */
async function freshMinute(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

async function buildWorld(env: Record<string, string>): Promise<World> {
  const app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000", RATE_LIMIT_AUTHORIZE_PER_SECOND: "1000000", ...env } });
  const org = await app.seed.org("Limited");
  const stranger = await app.seed.org("Stranger");
  const billing = (await app.seed.member(org, "BILLING_ADMIN", [], "billing")).key;
  const teamAdmin = (await app.seed.member(org, "MEMBER", [{ teamId: org.defaultTeamId, role: "ADMIN" }], "team-admin")).key;
  const teamMember = (await app.seed.member(org, "MEMBER", [{ teamId: org.defaultTeamId, role: "MEMBER" }], "team-member")).key;
  return { app, org, billing, teamAdmin, teamMember, stranger };
}

describe.each([
  ["in this process (no REDIS_URL)", {}],
  ["in Redis (REDIS_URL)", { REDIS_URL }],
])("team limits, counted %s", (mode, env: Record<string, string>) => {
  let w: World;
  beforeAll(async () => {
    w = await buildWorld(env);
    expect(w.app.orgraph.deps.limitCounters.shared).toBe("REDIS_URL" in env);
  }, 120_000);
  afterAll(() => w?.app.close());

  it("org ADMIN and BILLING_ADMIN set limits; a team ADMIN, a team MEMBER and team keys may not; an invisible team answers as a nonexistent one", async () => {
    const t = w.org.defaultTeamId;
    expect((await w.app.ok(w.org.admin.key, SET_LIMITS, { t, rpm: 100 })).setTeamLimits).toEqual({ requestsPerMinute: 100, monthlyInvocations: null });
    expect((await w.app.ok(w.billing, SET_LIMITS, { t, month: 5000 })).setTeamLimits).toEqual({ requestsPerMinute: 100, monthlyInvocations: 5000 });
    expect(codes(await w.app.gql(w.teamAdmin, SET_LIMITS, { t, rpm: 1 }))).toEqual(["FORBIDDEN"]);
    expect(codes(await w.app.gql(w.teamMember, SET_LIMITS, { t, rpm: 1 }))).toEqual(["FORBIDDEN"]);
    // A FULL_ACCESS key views its team (FORBIDDEN); the narrower keys do not even see it (NOT_FOUND).
    expect(codes(await w.app.gql(await teamKey(w, t, undefined, "FULL_ACCESS"), SET_LIMITS, { t, rpm: 1 }))).toEqual(["FORBIDDEN"]);
    expect(codes(await w.app.gql(await teamKey(w, t, undefined, "INFERENCE_ONLY"), SET_LIMITS, { t, rpm: 1 }))).toEqual(["NOT_FOUND"]);
    expect(codes(await w.app.gql(await teamKey(w, t, undefined, "METRICS_ONLY"), SET_LIMITS, { t, rpm: 1 }))).toEqual(["NOT_FOUND"]);
    const invisible = await w.app.gql(w.stranger.admin.key, SET_LIMITS, { t, rpm: 1 });
    const nonexistent = await w.app.gql(w.stranger.admin.key, SET_LIMITS, { t: `team_${"0".repeat(28)}`, rpm: 1 });
    expect(invisible.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(JSON.stringify(invisible)).toBe(JSON.stringify(nonexistent));
    // Nothing the refused callers asked for took effect.
    expect((await w.app.ok(w.org.admin.key, USAGE, { t })).team.limits).toEqual({ requestsPerMinute: 100, monthlyInvocations: 5000 });
    // Left out: unchanged; null: removed.
    expect((await w.app.ok(w.org.admin.key, SET_LIMITS, { t, rpm: null, month: null })).setTeamLimits).toEqual({ requestsPerMinute: null, monthlyInvocations: null });
  });

  it("each change is audited with its before and after", async () => {
    const { team } = await gatewayTeam(w, "Audited");
    await w.app.ok(w.billing, SET_LIMITS, { t: team, rpm: 7 });
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 70 });
    const events = await w.app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("action", "=", "team.set_limits").where("target_id", "=", team).orderBy("at").execute();
    expect(events.map((e) => [e.result, e.org_id, e.diff])).toEqual([
      ["SUCCESS", w.org.orgId, { requestsPerMinute: { before: null, after: 7 }, monthlyInvocations: { before: null, after: null } }],
      ["SUCCESS", w.org.orgId, { requestsPerMinute: { before: 7, after: 7 }, monthlyInvocations: { before: null, after: 70 } }],
    ]);
  });

  it.each([
    ["requestsPerMinute", { rpm: 0 }],
    ["requestsPerMinute", { rpm: -5 }],
    ["requestsPerMinute", { rpm: 1_000_001 }],
    ["monthlyInvocations", { month: 0 }],
    ["monthlyInvocations", { month: 1_000_000_001 }],
  ])("%s out of bounds (%j) is BAD_USER_INPUT naming it, and nothing changes", async (name, args) => {
    const t = w.org.defaultTeamId;
    const result = await w.app.gql(w.org.admin.key, SET_LIMITS, { t, ...args });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors?.[0]?.message).toContain(name);
    expect((await w.app.ok(w.org.admin.key, USAGE, { t })).team.limits).toEqual({ requestsPerMinute: null, monthlyInvocations: null });
  });

  it("createApiKey validates requestsPerMinute the same way, for every kind of key, and ApiKey shows it", async () => {
    for (const input of [{ teamId: w.org.defaultTeamId, type: "INFERENCE_ONLY" }, {}]) {
      for (const rpm of [0, 1_000_001]) {
        const result = await w.app.gql(w.org.admin.key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, { i: { name: "bad", requestsPerMinute: rpm, ...input } });
        expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
        expect(result.errors?.[0]?.message).toContain("requestsPerMinute");
      }
    }
    const personal = await w.app.ok(w.org.admin.key, `mutation { createApiKey(input: { name: "mine", requestsPerMinute: 12 }) { apiKey { id requestsPerMinute } } }`);
    expect(personal.createApiKey.apiKey.requestsPerMinute).toBe(12);
    const plain = await w.app.ok(w.org.admin.key, `mutation { createApiKey(input: { name: "plain" }) { apiKey { requestsPerMinute } } }`);
    expect(plain.createApiKey.apiKey.requestsPerMinute).toBeNull();
  });

  it("the team's per-minute limit: 429 RATE_LIMITED with Retry-After until the next minute, saying which limit", async () => {
    const { team, key } = await gatewayTeam(w, "Per minute");
    await w.app.ok(w.billing, SET_LIMITS, { t: team, rpm: 3 });
    await freshMinute();
    expect(await statuses(w, key, 3)).toEqual([200, 200, 200]);
    const refused = await invoke(w, key);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ allowed: false, reason: "The team's limit of 3 requests per minute is reached", code: "RATE_LIMITED" });
    const untilNextMinute = Math.ceil((60_000 - (Date.now() % 60_000)) / 1000);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(untilNextMinute - 2);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(Math.min(60, untilNextMinute + 1));
  });

  it("the monthly budget: 429 BUDGET_EXHAUSTED with Retry-After until the month resets, and Team.usage shows it used up", async () => {
    const { team, key } = await gatewayTeam(w, "Budget");
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 4 });
    expect(await statuses(w, key, 4)).toEqual([200, 200, 200, 200]);
    const refused = await invoke(w, key);
    const now = new Date();
    const reset = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ allowed: false, reason: `The team's monthly budget of 4 invocations is used up; it resets at ${reset.toISOString()}`, code: "BUDGET_EXHAUSTED" });
    expect(Math.abs(Number(refused.retryAfter) - (reset.getTime() - now.getTime()) / 1000)).toBeLessThan(5);
    const usage = (await w.app.ok(w.billing, USAGE, { t: team })).team.usage;
    expect(usage).toEqual({
      periodStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString(), resetsAt: reset.toISOString(), invocations: 4, budget: 4, remaining: 0,
    });
    // Raised: the refused call consumed nothing, so exactly the difference is allowed.
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 6 });
    expect(await statuses(w, key, 3)).toEqual([200, 200, 429]);
  });

  it("a key's limit stricter than its team's applies, and refusing it consumes nothing of the team's", async () => {
    await freshMinute();
    const { team, key } = await gatewayTeam(w, "Strict key", 2);
    const other = await teamKey(w, team);
    await w.app.ok(w.billing, SET_LIMITS, { t: team, rpm: 5, month: 100 });
    expect(await statuses(w, key, 4)).toEqual([200, 200, 429, 429]);
    expect((await invoke(w, key)).body).toMatchObject({ reason: "This key's limit of 2 requests per minute is reached", code: "RATE_LIMITED" });
    // The team has 3 of its 5 left: the refusals of the key took none of them.
    expect(await statuses(w, other, 4)).toEqual([200, 200, 200, 429]);
    expect((await w.app.ok(w.org.admin.key, USAGE, { t: team })).team.usage).toMatchObject({ invocations: 5, budget: 100, remaining: 95 });
  });

  it("a team's limit stricter than its key's applies, to personal keys too", async () => {
    await freshMinute();
    const { team, key } = await gatewayTeam(w, "Strict team", 10);
    await w.app.ok(w.billing, SET_LIMITS, { t: team, rpm: 2 });
    expect(await statuses(w, key, 3)).toEqual([200, 200, 429]);
    expect((await invoke(w, key)).body).toMatchObject({ reason: "The team's limit of 2 requests per minute is reached" });
    // A personal key of the org admin (who may invoke in every team) names the team.
    const personal = (await w.app.ok(w.org.admin.key, `mutation { createApiKey(input: { name: "me", requestsPerMinute: 1 }) { secret } }`)).createApiKey.secret;
    const asked = { action: "model:invoke", team, model: "m", environment: "prod" };
    const second = await gatewayTeam(w, "Personal");
    const elsewhere = { ...asked, team: second.team };
    expect((await authorize(w.app, personal, asked)).status).toBe(429);
    expect((await authorize(w.app, personal, elsewhere)).status).toBe(200);
    expect((await authorize(w.app, personal, elsewhere)).body).toMatchObject({ reason: "This key's limit of 1 requests per minute is reached" });
  });

  it("only an allowed model:invoke consumes: denied calls, metrics:read and other actions never do", async () => {
    const { team, key } = await gatewayTeam(w, "Only invoke");
    const full = await teamKey(w, team, undefined, "FULL_ACCESS");
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 2 });
    expect((await authorize(w.app, key, { action: "model:invoke", model: "nope", environment: "prod" })).status).toBe(403);
    expect((await authorize(w.app, key, { action: "model:invoke", model: "m", environment: "nowhere" })).status).toBe(403);
    expect((await authorize(w.app, key, { action: "metrics:read", model: "m", environment: "prod" })).status).toBe(403);
    for (let i = 0; i < 3; i++) {
      expect((await authorize(w.app, full, { action: "metrics:read", model: "m", environment: "prod" })).status).toBe(200);
      expect((await authorize(w.app, full, { action: "environment:manage", model: "m", environment: "prod" })).status).toBe(200);
    }
    expect(await statuses(w, key, 3)).toEqual([200, 200, 429]);
    // And a team without limits is never refused for it.
    const free = await gatewayTeam(w, "Unlimited");
    expect(new Set(await statuses(w, free.key, 10))).toEqual(new Set([200]));
  });

  it("a budget set mid-month counts the month's earlier invocations (seeded from Postgres)", async () => {
    const { team, key } = await gatewayTeam(w, "Mid-month");
    expect(await statuses(w, key, 3)).toEqual([200, 200, 200]);
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 4 });
    expect(await statuses(w, key, 2)).toEqual([200, 429]);
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 2 });
    expect((await invoke(w, key)).body).toMatchObject({ code: "BUDGET_EXHAUSTED" });
    expect((await w.app.ok(w.billing, USAGE, { t: team })).team.usage).toMatchObject({ invocations: 4, budget: 2, remaining: 0 });
  });

  it("concurrent calls never take more than the budget, nor less", async () => {
    const { team, key } = await gatewayTeam(w, "Concurrent");
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 25 });
    const answers = await Promise.all(Array.from({ length: 60 }, () => invoke(w, key)));
    expect(answers.filter((a) => a.status === 200).length).toBe(25);
    expect(answers.filter((a) => a.status === 429).length).toBe(35);
  });

  it("Team.limits and Team.usage: seen by the team's viewers and billing admins, hidden (NOT_FOUND) from strangers", async () => {
    const t = w.org.defaultTeamId;
    await w.app.ok(w.org.admin.key, SET_LIMITS, { t, rpm: 50, month: 900 });
    for (const viewer of [w.org.admin.key, w.billing, w.teamMember]) {
      expect((await w.app.ok(viewer, USAGE, { t })).team).toMatchObject({ limits: { requestsPerMinute: 50, monthlyInvocations: 900 }, usage: { budget: 900 } });
    }
    expect(codes(await w.app.gql(w.stranger.admin.key, USAGE, { t }))).toEqual(["NOT_FOUND"]);
    await w.app.ok(w.org.admin.key, SET_LIMITS, { t, rpm: null, month: null });
    expect((await w.app.ok(w.teamMember, USAGE, { t })).team.usage).toMatchObject({ budget: null, remaining: null });
  });
});

describe("with Redis (REDIS_URL): shared counters, a lost counter, an unreachable Redis", () => {
  let w: World;
  let redis: Redis;
  beforeAll(async () => {
    w = await buildWorld({ REDIS_URL });
    redis = new Redis(REDIS_URL);
  }, 120_000);
  afterAll(async () => {
    redis?.disconnect();
    await w?.app.close();
  });

  it("the counters are in Redis, with a TTL that ends after their window", async () => {
    const { team, key } = await gatewayTeam(w, "In Redis");
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 10 });
    expect(await statuses(w, key, 2)).toEqual([200, 200]);
    const version = (await w.app.orgraph.deps.db.selectFrom("teams").select("limits_version").where("id", "=", team).executeTakeFirstOrThrow()).limits_version;
    const counter = monthCounterKey(team, new Date(), version);
    expect(await redis.get(counter)).toBe("2");
    const ttl = await redis.pttl(counter);
    const now = new Date();
    expect(ttl).toBeGreaterThan(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime() - 60_000);
  });

  it("a counter Redis lost (restarted, flushed) is seeded again from Postgres: the budget does not start again at 0", async () => {
    const { team, key } = await gatewayTeam(w, "Lost counter");
    await w.app.ok(w.billing, SET_LIMITS, { t: team, month: 3 });
    expect(await statuses(w, key, 4)).toEqual([200, 200, 200, 429]);
    const version = (await w.app.orgraph.deps.db.selectFrom("teams").select("limits_version").where("id", "=", team).executeTakeFirstOrThrow()).limits_version;
    expect(await redis.del(monthCounterKey(team, new Date(), version))).toBe(1);
    expect((await invoke(w, key)).body).toMatchObject({ code: "BUDGET_EXHAUSTED" });
    expect(await redis.get(monthCounterKey(team, new Date(), version))).toBe("3");
  });

  it("Redis unreachable: limited teams and keys are refused with 503, unlimited ones are unaffected", async () => {
    const down = await buildWorld({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    try {
      const limited = await gatewayTeam(down, "Limited");
      await down.app.ok(down.billing, SET_LIMITS, { t: limited.team, rpm: 100 });
      const refused = await invoke(down, limited.key);
      expect(refused).toMatchObject({ status: 503, body: { allowed: false, code: "LIMITS_UNAVAILABLE" } });
      const limitedKey = await gatewayTeam(down, "Limited key", 100);
      expect((await invoke(down, limitedKey.key)).status).toBe(503);
      const free = await gatewayTeam(down, "Free");
      expect(await statuses(down, free.key, 3)).toEqual([200, 200, 200]);
      // Team.usage still answers, from Postgres.
      expect((await down.app.ok(down.org.admin.key, USAGE, { t: free.team })).team.usage).toMatchObject({ invocations: 3, budget: null });
    } finally {
      await down.app.close();
    }
  });
});
