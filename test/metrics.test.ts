import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_OPERATION_NAMES } from "../src/observability/operation-names.js";
import { codes, startTestApp, type GraphQLResponse, type SeededOrg, type TestApp } from "./helpers/app.js";
import { FaultyAuthz } from "./helpers/faulty-authz.js";
import { authorize } from "./helpers/gateway.js";
import { moved, Scrape } from "./helpers/prometheus.js";

/**
 * GET /metrics (issue 15): scraped over HTTP through the server's own listener, so that the
 * gateway's fast path is what is measured, and read with a Prometheus text-format parser.
 */
const faults = new FaultyAuthz();
let app: TestApp;
let org: SeededOrg;
let teamId: string;
let inferenceKey: string;

const DURATION = "orgraph_http_request_duration_seconds_count";
const SPICEDB = "orgraph_spicedb_call_duration_seconds_count";
const OPERATIONS = "orgraph_graphql_operation_duration_seconds_count";
const CACHE = "orgraph_authz_cache_lookups_total";
const DECISIONS = "orgraph_gateway_decisions_total";
const ERRORS = "orgraph_graphql_errors_total";

async function scrape(target: TestApp = app, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await target.http("/metrics", { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return new Scrape(await response.text());
}

/** A GraphQL request over HTTP, as the console sends it. */
async function graphql(key: string | undefined, query: string, variables: Record<string, unknown> = {}) {
  const response = await app.http("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse;
}

beforeAll(async () => {
  app = await startTestApp({ wrapAuthzClient: faults.wrap });
  // The outbox test below keeps a change queued; a background retry would apply it behind its back.
  app.orgraph.deps.outbox.stop();
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Serving");
  const admin = org.admin.key;
  await app.ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: teamId });
  await app.ok(admin, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: teamId });
  const created = await app.ok(admin, `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }`, {
    input: { name: "gateway", teamId, type: "INFERENCE_ONLY" },
  });
  inferenceKey = created.createApiKey.secret;
});
afterAll(() => app?.close());

describe("GET /metrics", () => {
  it("a gateway allow and a deny move their decision counters, the /v1/authorize histogram, SpiceDB checkBulk and the caches; asking again is a cache hit", async () => {
    const before = await scrape();
    const invoke = { action: "model:invoke", model: "llama", environment: "staging" };
    expect((await authorize(app, inferenceKey, invoke)).status).toBe(200);
    // An inference-only key may not read metrics: a deny decided in SpiceDB.
    expect((await authorize(app, inferenceKey, { ...invoke, action: "metrics:read" })).status).toBe(403);
    const after = await scrape();
    const delta = moved(before, after);

    expect(delta(DECISIONS, { result: "allow", reason: "granted" })).toBe(1);
    expect(delta(DECISIONS, { result: "deny", reason: "not_allowed" })).toBe(1);
    expect(delta(DECISIONS)).toBe(2);
    expect(delta(DURATION, { route: "/v1/authorize", method: "POST", status: "200" })).toBe(1);
    expect(delta(DURATION, { route: "/v1/authorize", method: "POST", status: "403" })).toBe(1);
    expect(delta(DURATION, { route: "/v1/authorize" })).toBe(2);
    // One bulk check per fresh decision (DataLoader batching), none failed.
    expect(delta(SPICEDB, { method: "checkBulk", outcome: "ok" })).toBe(2);
    expect(delta(SPICEDB, { outcome: "error" })).toBe(0);
    // Both questions were new; the key was read once, then found in its cache.
    expect(delta(CACHE, { cache: "decisions", result: "miss" })).toBe(2);
    expect(delta(CACHE, { cache: "decisions", result: "hit" })).toBe(0);
    expect(delta(CACHE, { cache: "apiKeys", result: "miss" })).toBe(1);
    expect(delta(CACHE, { cache: "apiKeys", result: "hit" })).toBe(1);
    // The deny shares the team, model and environment `view` checks and the IP allowlists' team#ip_refused with the allow: 6 + 2 asked, 4 answered from the cache.
    expect(delta(CACHE, { cache: "checks", result: "miss" })).toBe(8);
    expect(delta(CACHE, { cache: "checks", result: "hit" })).toBe(4);

    expect((await authorize(app, inferenceKey, invoke)).status).toBe(200);
    const again = moved(after, await scrape());
    expect(again(DECISIONS, { result: "allow", reason: "granted" })).toBe(1);
    expect(again(CACHE, { cache: "decisions", result: "hit" })).toBe(1);
    expect(again(CACHE, { cache: "decisions", result: "miss" })).toBe(0);
    expect(again(SPICEDB, { method: "checkBulk" })).toBe(0);
    // The scrape before was a request too, by route template.
    expect(again(DURATION, { route: "/metrics", method: "GET", status: "200" })).toBe(1);
  });

  it("labels a deny by its reason, and a refused request by its status only", async () => {
    const before = await scrape();
    // The admin views the team, so learns that it has no such model (a key confined to models would not).
    expect((await authorize(app, org.admin.key, { action: "model:invoke", team: teamId, model: "nope", environment: "staging" })).status).toBe(403);
    expect((await authorize(app, inferenceKey, { action: "model:invoke", team: org.defaultTeamId, model: "llama", environment: "staging" })).status).toBe(403);
    expect((await authorize(app, inferenceKey, { action: "delete" })).status).toBe(400);
    expect((await authorize(app, "ogt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", {})).status).toBe(401);
    const after = await scrape();
    const delta = moved(before, after);
    expect(delta(DECISIONS, { result: "deny", reason: "no_such_model" })).toBe(1);
    expect(delta(DECISIONS, { result: "deny", reason: "other_team" })).toBe(1);
    expect(delta(DECISIONS)).toBe(2);
    expect(delta(DURATION, { route: "/v1/authorize", status: "403" })).toBe(2);
    expect(delta(DURATION, { route: "/v1/authorize", status: "400" })).toBe(1);
    expect(delta(DURATION, { route: "/v1/authorize", status: "401" })).toBe(1);
    // No label value is anything the caller sent, nor an id.
    expect(after.text).not.toContain("nope");
    expect(after.text).not.toContain(org.defaultTeamId);
    expect(after.text).not.toContain(teamId);
  });

  it("counts GraphQL operations by name and type, and every error of a response by its code", async () => {
    const before = await scrape();
    expect(codes(await graphql(org.admin.key, `query MetricsTeam($t: ID!) { team(id: $t) { name } }`, { t: teamId }))).toEqual([]);
    expect(codes(await graphql(org.admin.key, `mutation MetricsEnvironment($t: ID!) { createEnvironment(teamId: $t, name: "metrics") { id } }`, { t: teamId }))).toEqual([]);
    expect(codes(await graphql(org.admin.key, `{ __typename }`))).toEqual([]);
    expect(codes(await graphql(org.admin.key, `query Broken { nope1 nope2 }`))).toEqual(["BAD_USER_INPUT", "BAD_USER_INPUT"]);
    expect(codes(await graphql("ogp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", `query MetricsTeam($t: ID!) { team(id: $t) { name } }`, { t: teamId }))).toEqual(["UNAUTHENTICATED"]);
    const after = await scrape();
    const delta = moved(before, after);
    expect(delta(OPERATIONS, { operation: "MetricsTeam", type: "query" })).toBe(1);
    expect(delta(OPERATIONS, { operation: "MetricsEnvironment", type: "mutation" })).toBe(1);
    expect(delta(OPERATIONS, { operation: "(anonymous)", type: "query" })).toBe(1);
    // Refused before execution (validation, authentication): not operations, but errors.
    expect(delta(OPERATIONS)).toBe(3);
    expect(delta(ERRORS, { code: "BAD_USER_INPUT" })).toBe(2);
    expect(delta(ERRORS, { code: "UNAUTHENTICATED" })).toBe(1);
    expect(delta(ERRORS)).toBe(3);
    expect(delta(DURATION, { route: "/graphql", method: "POST" })).toBe(5);
  });

  it(`keeps at most ${MAX_OPERATION_NAMES} operation names, admitted only from signed-in callers; later ones, and names over 64 characters, are "(other)"`, async () => {
    const ask = (name: string, key?: string) =>
      app.fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query: `query ${name} { __typename }` }),
      });
    const before = await scrape();
    const named = (scrape: Scrape) => scrape.labelValues(OPERATIONS, "operation").filter((name) => !name.startsWith("("));
    // A stranger's names never become labels, however many it sends.
    for (let i = 0; i < 5; i++) expect((await ask(`Stranger${i}`)).status).toBe(200);
    const afterStranger = await scrape();
    expect(named(afterStranger)).toEqual(named(before));
    expect(moved(before, afterStranger)(OPERATIONS, { operation: "(other)" })).toBe(5);
    const key = org.admin.key;
    expect((await ask(`Long${"x".repeat(61)}`, key)).status).toBe(200);
    const room = MAX_OPERATION_NAMES - named(afterStranger).length;
    expect(room).toBeGreaterThan(0);
    for (let i = 0; i < room + 5; i++) expect((await ask(`Flood${i}`, key)).status).toBe(200);
    const after = await scrape();
    expect(named(after)).toHaveLength(MAX_OPERATION_NAMES);
    expect(named(after)).toContain(`Flood${room - 1}`);
    expect(named(after)).not.toContain(`Flood${room}`);
    expect(moved(afterStranger, after)(OPERATIONS, { operation: "(other)" })).toBe(6);
    // A kept name goes on being counted under its own name, whoever sends it.
    await ask("Flood0");
    expect(moved(after, await scrape())(OPERATIONS, { operation: "Flood0" })).toBe(1);
  });

  it("without METRICS_TOKEN, answers only a scraper on this host: a loopback peer, not forwarded by a proxy", async () => {
    const refusal = [403, "Set METRICS_TOKEN to scrape /metrics from another host\n"];
    const answer = async (response: Response | Promise<Response>) => {
      const settled = await response;
      return [settled.status, await settled.text()];
    };
    const fromPeer = (remoteAddress: string) => app.orgraph.app.fetch(new Request("http://orgraph/metrics"), { req: { socket: { remoteAddress } } });
    expect(await answer(fromPeer("198.51.100.7"))).toEqual(refusal);
    expect(await answer(fromPeer("2001:db8::7"))).toEqual(refusal);
    expect(await answer(fromPeer("::ffff:10.0.0.1"))).toEqual(refusal);
    // No peer known (not the Node listener): closed.
    expect(await answer(app.fetch("/metrics"))).toEqual(refusal);
    for (const header of ["x-forwarded-for", "forwarded", "x-real-ip", "via", "x-forwarded-host", "x-forwarded-proto", "true-client-ip", "cf-connecting-ip"]) {
      expect(await answer(app.http("/metrics", { headers: { [header]: "203.0.113.9" } }))).toEqual(refusal);
    }
    for (const loopback of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) expect((await fromPeer(loopback)).status).toBe(200);
    expect((await app.http("/metrics")).status).toBe(200);
  });

  it("reports SpiceDB failures, the outbox's depth and its oldest entry's age, and GraphQL's AUTHZ_UNAVAILABLE", async () => {
    const before = await scrape();
    expect(before.value("orgraph_outbox_depth")).toBe(0);
    expect(before.value("orgraph_outbox_oldest_age_seconds")).toBe(0);

    faults.write_ = "before";
    const refused = await app.gql(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "queued") { id } }`, { t: teamId });
    expect(codes(refused)).toEqual(["AUTHZ_UNAVAILABLE"]);
    faults.reads = "fail";
    expect((await authorize(app, inferenceKey, { action: "model:invoke", model: "llama", environment: "queued" })).status).toBe(503);
    const during = await scrape();
    const queued = (await app.orgraph.deps.db.selectFrom("authz_outbox").select("id").execute()).length;
    expect(queued).toBeGreaterThan(0);
    expect(during.value("orgraph_outbox_depth")).toBe(queued);
    expect(during.value("orgraph_outbox_oldest_age_seconds")).toBeGreaterThan(0);
    expect(during.value("orgraph_outbox_oldest_age_seconds")).toBeLessThan(60);
    const delta = moved(before, during);
    expect(delta(SPICEDB, { method: "write", outcome: "error" })).toBe(1);
    expect(delta(SPICEDB, { method: "checkBulk", outcome: "error" })).toBe(1);
    expect(delta(ERRORS, { code: "AUTHZ_UNAVAILABLE" })).toBe(1);
    expect(delta(DURATION, { route: "/v1/authorize", status: "503" })).toBe(1);

    faults.heal();
    await app.orgraph.deps.outbox.flush();
    const healed = await scrape();
    expect(healed.value("orgraph_outbox_depth")).toBe(0);
    expect(healed.value("orgraph_outbox_oldest_age_seconds")).toBe(0);
    expect(moved(during, healed)(SPICEDB, { method: "write", outcome: "ok" })).toBe(1);
  });

  it("reports the Postgres pool with DATABASE_URL (PGlite has none), and the process", async () => {
    // Nothing else queries meanwhile (the outbox's background flush is stopped too): every open connection is idle.
    await app.orgraph.deps.usage.stop();
    await app.orgraph.deps.keyLastUsed.stop();
    const metrics = await scrape();
    if (app.database.databaseUrl) {
      expect(metrics.value("orgraph_pg_pool_connections")).toBeGreaterThanOrEqual(1);
      expect(metrics.value("orgraph_pg_pool_idle_connections")).toBe(metrics.value("orgraph_pg_pool_connections"));
      expect(metrics.value("orgraph_pg_pool_waiting_requests")).toBe(0);
    } else {
      expect(["orgraph_pg_pool_connections", "orgraph_pg_pool_idle_connections", "orgraph_pg_pool_waiting_requests"].filter((name) => metrics.has(name))).toEqual([]);
    }
    expect(metrics.value("process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(metrics.value("nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  });
});

describe("GET /metrics with METRICS_TOKEN", () => {
  const TOKEN = "m3tr1cs-t0ken-for-tests-0123456789";
  let guarded: TestApp;
  beforeAll(async () => {
    guarded = await startTestApp({ env: { METRICS_TOKEN: TOKEN, RATE_LIMIT_MUTATIONS_PER_MINUTE: "1" } });
  });
  afterAll(() => guarded?.close());

  it("answers 401 alike without the token, with a wrong one or another scheme, before reading any metric; 200 with it", async () => {
    const refusals: Record<string, string>[] = [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: "Bearer short" }, { authorization: `Basic ${TOKEN}` }];
    const answers = await Promise.all(
      refusals.map(async (headers) => {
        const response = await guarded.http("/metrics", { headers });
        return [response.status, response.headers.get("content-type"), response.headers.get("www-authenticate"), await response.text()];
      }),
    );
    expect(new Set(answers.map((answer) => JSON.stringify(answer)))).toEqual(new Set([JSON.stringify([401, "text/plain;charset=UTF-8", "Bearer", "Unauthorized\n"])]));
    const metrics = await scrape(guarded, { authorization: `Bearer ${TOKEN}` });
    expect(metrics.value(DURATION, { route: "/metrics", status: "401" })).toBe(4);
    // With the token, any host may scrape; without it, not even this one.
    const remote = { req: { socket: { remoteAddress: "198.51.100.7" } } };
    expect((await guarded.orgraph.app.fetch(new Request("http://orgraph/metrics", { headers: { authorization: `Bearer ${TOKEN}` } }), remote)).status).toBe(200);
    expect((await guarded.http("/metrics")).status).toBe(401);
  });

  it("counts rate-limit refusals by kind", async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const before = await scrape(guarded, headers);
    const accept = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: `mutation { acceptInvitation(token: "ogi_nope") { secret } }` }) };
    await guarded.http("/graphql", accept);
    expect((await guarded.http("/graphql", accept)).status).toBe(429);
    const delta = moved(before, await scrape(guarded, headers));
    expect(delta("orgraph_rate_limited_total", { kind: "mutation" })).toBe(1);
    expect(delta("orgraph_rate_limited_total", { kind: "decision" })).toBe(0);
    expect(delta(ERRORS, { code: "RATE_LIMITED" })).toBe(1);
  });
});
