import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 13, "export results": GET /v1/chains/{chainId}/runs/export streams the chain's runs
 * with results as NDJSON, over real HTTP, for holders of results:export on the team or a chain
 * grant that includes running; everyone else gets the 404 of a nonexistent chain.
 */
let app: TestApp;
let org: SeededOrg;
let teamId: string;
let chainId: string;
const callers: Record<string, string> = {};
const runIds: string[] = [];

const exportOf = (chain: string, key?: string) => app.http(`/v1/chains/${chain}/runs/export`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
const GHOST_CHAIN = `chn_${"0".repeat(28)}`;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Agents");
  chainId = (await app.ok(org.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "reporter") { id } }`, { t: teamId })).createChain.id;
  callers["org ADMIN"] = org.admin.key;
  for (const role of ["OPERATOR", "VIEWER"] as const) callers[`team ${role}`] = (await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase())).key;
  for (const access of ["VIEWER", "RUNNER", "EDITOR"] as const) {
    const guest = await app.seed.member(org, "MEMBER", [], `chain-${access.toLowerCase()}`);
    await app.ok(org.admin.key, `mutation($c: ID!, $u: ID!, $a: ChainAccess!) { shareChain(chainId: $c, userId: $u, access: $a) { id } }`, { c: chainId, u: guest.userId, a: access });
    callers[`chain ${access}`] = guest.key;
  }
  for (const [label, permissions] of [["custom role with results:export", ["team:view", "results:export"]], ["custom role with chains:run only", ["team:view", "chains:run"]]] as const) {
    const holder = await app.seed.member(org, "MEMBER", [], "custom");
    const role = (await app.ok(org.admin.key, `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id } }`, { o: org.orgId, n: label, p: [...permissions] })).createRole.id;
    await app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: teamId, p: holder.userId });
    callers[label] = holder.key;
  }
  for (const type of ["FULL_ACCESS", "INFERENCE_ONLY"] as const) {
    callers[`${type} team key`] = (await app.ok(org.admin.key, `mutation($t: ID!, $type: ApiKeyType!) { createApiKey(input: { name: "k", teamId: $t, type: $type }) { secret } }`, { t: teamId, type })).createApiKey.secret;
  }
  callers["ADMIN of another organization"] = (await app.seed.org("Elsewhere")).admin.key;

  const runtime = callers["FULL_ACCESS team key"]!;
  for (let i = 0; i < 3; i++) runIds.push((await app.ok(runtime, `mutation($c: ID!) { runChain(id: $c, input: { n: ${i} }) { id } }`, { c: chainId })).runChain.id);
  const update = `mutation($id: ID!, $s: ChainRunStatus!, $r: JSON, $d: String) { updateChainRun(id: $id, status: $s, result: $r, decision: $d) { id } }`;
  await app.ok(runtime, update, { id: runIds[0], s: "RUNNING" });
  await app.ok(runtime, update, { id: runIds[0], s: "WAITING_FOR_APPROVAL", d: "Publish the report?", r: { pages: 12 } });
  await app.ok(callers["team OPERATOR"], `mutation($id: ID!) { decideChainRun(id: $id, approve: true, comment: "fine") { id } }`, { id: runIds[0] });
  await app.ok(runtime, update, { id: runIds[0], s: "SUCCEEDED", r: { pages: 12, url: "https://example.test/r" } });
});
afterAll(() => app?.close());

const lines = async (response: Response) =>
  (await response.text())
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, any>);

describe("GET /v1/chains/{chainId}/runs/export", () => {
  it("streams the runs newest first as NDJSON, with status, result, who started them and every decision", async () => {
    const response = await exportOf(chainId, callers["team OPERATOR"]);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");
    const runs = await lines(response);
    expect(runs.map((r) => r.id)).toEqual([...runIds].reverse());
    expect(runs.at(-1)).toMatchObject({
      id: runIds[0],
      status: "SUCCEEDED",
      result: { pages: 12, url: "https://example.test/r" },
      startedBy: expect.stringMatching(/^key_/),
      createdAt: expect.any(String),
      decisions: [{ question: "Publish the report?", approve: true, comment: "fine", decidedBy: expect.stringMatching(/^usr_/), decidedAt: expect.any(String) }],
    });
    expect(runs[0]).toMatchObject({ status: "QUEUED", result: null, decisions: [] });
  });

  it.each(["org ADMIN", "team OPERATOR", "chain RUNNER", "chain EDITOR", "custom role with results:export", "FULL_ACCESS team key"])("%s exports the runs", async (who) => {
    const response = await exportOf(chainId, callers[who]);
    expect(response.status).toBe(200);
    expect((await lines(response)).map((r) => r.id)).toEqual([...runIds].reverse());
  });

  it.each(["team VIEWER", "chain VIEWER", "custom role with chains:run only", "INFERENCE_ONLY team key", "ADMIN of another organization"])(
    "%s gets the 404 of a nonexistent chain",
    async (who) => {
      const denied = await exportOf(chainId, callers[who]);
      const ghost = await exportOf(GHOST_CHAIN, callers[who]);
      expect({ status: denied.status, body: await denied.text() }).toEqual({ status: ghost.status, body: await ghost.text() });
      expect(ghost.status).toBe(404);
    },
  );

  it("a malformed chain id, or another kind of id, is the same 404", async () => {
    const ghost = await (await exportOf(GHOST_CHAIN, org.admin.key)).text();
    for (const id of ["not-an-id", teamId, encodeURIComponent("%zz"), runIds[0]!]) {
      const response = await exportOf(id, org.admin.key);
      expect({ id, status: response.status, body: await response.text() }).toEqual({ id, status: 404, body: ghost });
    }
  });

  it("signed out, or with a bad credential: 401, as the other endpoints answer", async () => {
    expect((await exportOf(chainId)).status).toBe(401);
    expect((await exportOf(chainId, "ogk_not-a-key")).status).toBe(401);
    expect((await exportOf(GHOST_CHAIN)).status).toBe(401);
  });

  it("is bounded: the latest 10,000 runs, paged from Postgres", async () => {
    const big = (await app.ok(org.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "busy") { id } }`, { t: teamId })).createChain.id;
    const db = app.orgraph.deps.db;
    const total = 10_050;
    // Ids sort by creation: a millisecond stamp then random hex; these are spaced one apart.
    const base = Date.now() - total;
    const id = (i: number) => `run_${(base + i).toString(16).padStart(12, "0")}${"0".repeat(16)}`;
    for (let start = 0; start < total; start += 1000) {
      const rows = Array.from({ length: Math.min(1000, total - start) }, (_, k) => ({ id: id(start + k), chain_id: big, status: "SUCCEEDED" as const, input: null, started_by: null, result: JSON.stringify({ i: start + k }) }));
      await db.insertInto("chain_runs").values(rows).execute();
    }
    const runs = await lines(await exportOf(big, org.admin.key));
    expect(runs).toHaveLength(10_000);
    expect(runs[0]).toMatchObject({ id: id(total - 1), result: { i: total - 1 } });
    expect(runs.at(-1)).toMatchObject({ id: id(total - 10_000) });
  }, 120_000);
});
