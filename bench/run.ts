import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { openDatabase } from "../src/db/connect.js";
import { measureOverload, reportOverload } from "./overload.js";
import { policyAuthorizeBody, setPolicies } from "./policies.js";
import { FULL, QUICK, seedWorkload, type Workload } from "./seed.js";

/**
 * `npm run bench [-- --quick]`: seeds one workload, then starts the server four ways
 * (ceiling: authorization always allows; naive: one SpiceDB call per question; uncached: the
 * real thing without its cross-request caches, so every request asks SpiceDB; orgraph: the
 * real thing) on the embedded default, and drives each with the same load at concurrency 8
 * and 32. Prints req/s, p50 and p99, the ratios orgraph/ceiling and orgraph/naive, and writes
 * bench/results.json. Those servers run with the GraphQL admission gate wide open (the
 * throughput figures are of the work, not of the gate); the last stage, overload
 * (bench/overload.ts), runs the real thing at its defaults at 8 and 256 connections and writes
 * bench/results.overload.json. `-- --only overload` runs that stage alone.
 */
const quick = process.argv.includes("--quick");
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const UNGATED = { GRAPHQL_MAX_IN_FLIGHT: "100000", GRAPHQL_MAX_QUEUED: "100000", GRAPHQL_QUEUE_MS: "600000" };
const scale = quick ? QUICK : FULL;
const seconds = quick ? 4 : 10;
const ROOT = new URL("..", import.meta.url).pathname;
const PORT = 4900;

/** req/s and latency in ms; `timeouts` counts requests that got no answer within 10 s (naive, at high concurrency). */
type Figures = { rps: number; p50: number; p99: number; timeouts?: number };
type Results = Record<string, Record<string, Record<string, Figures>>>;

const B1 = `query($t: ID!) { team(id: $t) { models(first: 100) { edges { node { id name deployments { version environment { name restricted } } } } } } }`;
const B2 = `{ viewer { teams { id name } } }`;

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "orgraph-bench-"));
  try {
    console.log(`seeding ${quick ? "quick" : "full"} workload: ${JSON.stringify(scale)}`);
    const started = Date.now();
    const database = await openDatabase({ databaseUrl: undefined, dataDir });
    const workload = await seedWorkload(database.db, scale);
    const relationships = await database.db.selectFrom("authz_relationships").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
    await database.close();
    console.log(`seeded ${relationships.n} relationships in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const overloadRun = { port: PORT, seconds, start: (env: Record<string, string>) => startServer("orgraph", dataDir, env), stop };
    if (only === "overload") {
      const figures: Record<string, Awaited<ReturnType<typeof measureOverload>>> = { defaults: await measureOverload(workload, overloadRun) };
      reportOverload(figures.defaults!);
      // `--in-flight 2,4`: the same stage again with GRAPHQL_MAX_IN_FLIGHT at each of these.
      const variants = process.argv.includes("--in-flight") ? process.argv[process.argv.indexOf("--in-flight") + 1]!.split(",") : [];
      for (const inFlight of variants) {
        console.log(`GRAPHQL_MAX_IN_FLIGHT=${inFlight}:`);
        figures[`in-flight ${inFlight}`] = await measureOverload(workload, overloadRun, { GRAPHQL_MAX_IN_FLIGHT: inFlight });
        reportOverload(figures[`in-flight ${inFlight}`]!);
      }
      writeFileSync(join(ROOT, "bench", quick ? "results.overload.quick.json" : "results.overload.json"), `${JSON.stringify(figures, null, 2)}\n`);
      return;
    }
    if (only !== undefined) throw new Error(`--only: the one stage that runs alone is overload, not "${only}"`);

    const results: Results = { B1: {}, B2: {}, B3: {} };
    for (const mode of ["ceiling", "naive", "uncached", "orgraph"] as const) {
      const server = await startServer(mode, dataDir, UNGATED);
      try {
        await sanityCheck(workload, mode);
        for (const connections of [8, 32]) {
          const c = `c${connections}`;
          (results.B1![c] ??= {})[mode] = await drive(graphqlRequests(workload.member.key, B1, { t: workload.member.teamId }), connections);
          (results.B2![c] ??= {})[mode] = await drive(
            [workload.threeTeamMember, workload.adminKey].map((key) => graphqlRequest(key, B2, {})),
            connections,
          );
          if (mode === "orgraph" || mode === "uncached") (results.B3![c] ??= {})[mode] = await drive(authorizeRequests(workload), connections);
        }
        if (mode === "orgraph") await measurePolicies(workload, results);
      } finally {
        await stop(server);
      }
    }
    report(results);
    writeFileSync(join(ROOT, "bench", quick ? "results.quick.json" : "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    const overload = await measureOverload(workload, overloadRun);
    reportOverload(overload);
    writeFileSync(join(ROOT, "bench", quick ? "results.overload.quick.json" : "results.overload.json"), `${JSON.stringify(overload, null, 2)}\n`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function graphqlRequest(key: string, query: string, variables: Record<string, unknown>) {
  return {
    method: "POST" as const,
    path: "/graphql",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  };
}
const graphqlRequests = (key: string, query: string, variables: Record<string, unknown>) => [graphqlRequest(key, query, variables)];

/** 200 different gateway keys, each asking about a model and environment it may call (with policies: a tool, a sensitivity and the end client's address). */
function authorizeRequests(workload: Workload, withPolicies = false) {
  return workload.gatewayKeys.slice(0, 200).map(({ key, model, environment }) => ({
    method: "POST" as const,
    path: "/v1/authorize",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: withPolicies ? policyAuthorizeBody(model, environment) : JSON.stringify({ action: "invoke", model, environment }),
  }));
}

/**
 * B3 with every gateway policy active (bench/policies.ts) against B3 without, on the same
 * server: without (already measured), with, without, with — so that neither runs only first;
 * each figure is the mean of its two runs. Written as B3.<c>["orgraph+policies"], and the
 * second plain run as "orgraph (again)".
 */
async function measurePolicies(workload: Workload, results: Results): Promise<void> {
  const url = `http://127.0.0.1:${PORT}`;
  for (const connections of [8, 32]) {
    const c = `c${connections}`;
    await setPolicies(url, workload, true);
    await policiesAreActive(workload);
    const first = await drive(authorizeRequests(workload, true), connections);
    await setPolicies(url, workload, false);
    const again = await drive(authorizeRequests(workload), connections);
    await setPolicies(url, workload, true);
    const second = await drive(authorizeRequests(workload, true), connections);
    await setPolicies(url, workload, false);
    results.B3![c]!["orgraph (again)"] = again;
    results.B3![c]!["orgraph+policies"] = mean(first, second);
  }
}

/** The policies really decide: the measured question is allowed, a denied tool and an address outside the lists are refused. */
async function policiesAreActive(workload: Workload): Promise<void> {
  const [request] = authorizeRequests(workload, true);
  const ask = async (change: Record<string, unknown>) => {
    const body = { ...(JSON.parse(request!.body) as Record<string, unknown>), ...change };
    const response = await fetch(`http://127.0.0.1:${PORT}${request!.path}`, { method: "POST", headers: request!.headers, body: JSON.stringify(body) });
    return `${response.status} ${JSON.stringify(await response.json())}`;
  };
  const [allowed, deniedTool, deniedAddress] = await Promise.all([ask({}), ask({ tool: "report_secret_salaries" }), ask({ clientIp: "192.0.2.1" })]);
  if (!allowed.startsWith("200") || !deniedTool.startsWith("403") || !deniedAddress.includes("IP_NOT_ALLOWED")) {
    throw new Error(`B3 with policies answered: ${allowed} / denied tool: ${deniedTool} / outside address: ${deniedAddress}`);
  }
}

const mean = (a: Figures, b: Figures): Figures => ({ rps: Math.round((a.rps + b.rps) / 2), p50: (a.p50 + b.p50) / 2, p99: (a.p99 + b.p99) / 2 });

async function drive(requests: ReturnType<typeof graphqlRequests>, connections: number): Promise<Figures> {
  // Warm-up, not measured: each distinct request once, so every mode is measured in its steady
  // state (for orgraph: caches filled; `uncached` shows the cost without them).
  await autocannon({ url: `http://127.0.0.1:${PORT}`, connections: 1, amount: requests.length, requests });
  const result = await autocannon({ url: `http://127.0.0.1:${PORT}`, connections, duration: seconds, requests });
  // Every answer must be a success; a request that gets none in time is counted, not hidden.
  if (result.non2xx > 0) throw new Error(`${result.non2xx} non-2xx answers: the benchmark must measure successes`);
  const figures: Figures = { rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99 };
  if (result.timeouts > 0 || result.errors > 0) figures.timeouts = result.timeouts + result.errors;
  return figures;
}

/** Each workload answers what it should before it is timed (the ceiling allows everything, so sees more). */
async function sanityCheck(workload: Workload, mode: string): Promise<void> {
  const post = async (request: ReturnType<typeof graphqlRequest>) =>
    (await fetch(`http://127.0.0.1:${PORT}${request.path}`, { method: "POST", headers: request.headers, body: request.body })).json() as Promise<any>;
  const b1 = await post(graphqlRequest(workload.member.key, B1, { t: workload.member.teamId }));
  if (b1.errors || b1.data.team.models.edges.length !== 100 || b1.data.team.models.edges[0].node.deployments.length !== 2) {
    throw new Error(`B1 answered ${JSON.stringify(b1).slice(0, 300)}`);
  }
  const b2 = await post(graphqlRequest(workload.threeTeamMember, B2, {}));
  if (b2.errors || (mode !== "ceiling" && b2.data.viewer.teams.length !== 3)) throw new Error(`B2 answered ${JSON.stringify(b2).slice(0, 300)}`);
  const b3 = await post(authorizeRequests(workload)[0]!);
  if (b3.allowed !== true) throw new Error(`B3 answered ${JSON.stringify(b3)}`);
}

function report(results: Results): void {
  for (const [workload, byConcurrency] of Object.entries(results)) {
    for (const [c, byMode] of Object.entries(byConcurrency)) {
      const line = Object.entries(byMode).map(
        ([mode, f]) => `${mode} ${f.rps} req/s p50 ${f.p50} ms p99 ${f.p99} ms${f.timeouts ? ` (${f.timeouts} timed out)` : ""}`,
      );
      const { orgraph, uncached, ceiling, naive, "orgraph (again)": again, "orgraph+policies": policies } = byMode;
      const ratio = (a: Figures | undefined, b: Figures | undefined, name: string) => (a && b ? ` ${name} ${(a.rps / b.rps).toFixed(2)}` : "");
      const plain = orgraph && again ? mean(orgraph, again) : orgraph;
      const ratios =
        ratio(orgraph, ceiling, "orgraph/ceiling") +
        ratio(orgraph, naive, "orgraph/naive") +
        ratio(uncached, ceiling, "uncached/ceiling") +
        ratio(uncached, naive, "uncached/naive") +
        ratio(policies, plain, "policies/orgraph");
      console.log(`${workload} ${c}: ${line.join(" · ")}${ratios ? ` |${ratios}` : ""}`);
    }
  }
}

async function startServer(mode: string, dataDir: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  // BENCH_CPU_PROF=<folder>: each server writes a CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, "--import", "tsx", "bench/server.ts", mode], {
    cwd: ROOT,
    // TRUST_PROXY: the load generator stands for the gateway, which names its end client (clientIp).
    env: { ...process.env, ORGRAPH_DATA_DIR: dataDir, PORT: String(PORT), DATABASE_URL: "", SPICEDB_ENDPOINT: "", TRUST_PROXY: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.on("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
