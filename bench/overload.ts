import type { ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import type { Workload } from "./seed.js";

/**
 * The overload stage (issue 17 target 4): B1, the console's models page, at 8 connections and
 * at 256, on a server with the admission gate at its defaults, while three probes ask
 * /healthz, /readyz and /v1/authorize one request at a time (a load balancer and a gateway).
 * At 256, once with clients that honour Retry-After (wait a second after a 503, as a console
 * retrying politely would) and once with clients that retry at once (the worst case: the
 * refusals themselves then cost the server). Reported: admitted throughput against the c8
 * figure, the 503 share, admitted p99 against c8's, every probe's p99.
 */
export interface OverloadFigures {
  connections: number;
  retry: "honours Retry-After" | "at once" | "-";
  admittedRps: number;
  refusedRps: number;
  refusedShare: number;
  p50: number;
  p99: number;
  refusedP99: number;
  probes: Record<string, { p50: number; p99: number; n: number; failures: number }>;
  other: number;
  /** The server's own count of refusals during the round (orgraph_graphql_shed_total), by reason. */
  shedByServer: Record<string, number>;
}

export interface OverloadRun {
  port: number;
  seconds: number;
  start: (env: Record<string, string>) => Promise<ChildProcess>;
  stop: (child: ChildProcess) => Promise<void>;
}

const B1 = `query($t: ID!) { team(id: $t) { models(first: 100) { edges { node { id name deployments { version environment { name restricted } } } } } } }`;

interface Answer {
  status: number;
  ms: number;
  retryAfter?: string;
}

function send(agent: Agent, port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, method, path, agent, headers: body ? { ...headers, "content-length": String(Buffer.byteLength(body)) } : headers }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, retryAfter: res.headers["retry-after"] as string | undefined }));
    });
    req.setTimeout(30_000, () => req.destroy());
    req.on("error", () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `connections` closed loops of B1 and the three probes, for `seconds`. */
async function shedCounts(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^orgraph_graphql_shed_total\{reason="(\w+)"\} (\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

async function drive(workload: Workload, port: number, connections: number, seconds: number, honourRetryAfter: boolean): Promise<OverloadFigures> {
  const shedBefore = await shedCounts(port);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const probeAgent = new Agent({ keepAlive: true, maxSockets: 3 });
  const b1 = JSON.stringify({ query: B1, variables: { t: workload.member.teamId } });
  const b1Headers = { "content-type": "application/json", authorization: `Bearer ${workload.member.key}` };
  const gateway = workload.gatewayKeys[0]!;
  const authorizeBody = JSON.stringify({ action: "invoke", model: gateway.model, environment: gateway.environment });
  const deadline = performance.now() + seconds * 1000;
  const admitted: number[] = [];
  const refused: number[] = [];
  let other = 0;
  const loop = async () => {
    while (performance.now() < deadline) {
      const answer = await send(agent, port, "POST", "/graphql", b1Headers, b1);
      if (performance.now() > deadline) break;
      if (answer.status === 200) admitted.push(answer.ms);
      else if (answer.status === 503) {
        refused.push(answer.ms);
        if (honourRetryAfter) await sleep(Number(answer.retryAfter ?? 1) * 1000);
      } else other++;
    }
  };
  const probes: OverloadFigures["probes"] = {};
  const probe = async (name: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const times: number[] = [];
    let failures = 0;
    while (performance.now() < deadline) {
      const answer = await send(probeAgent, port, method, path, headers, body);
      times.push(answer.ms);
      if (answer.status !== 200) failures++;
      await sleep(20);
    }
    probes[name] = { p50: percentile(times, 50), p99: percentile(times, 99), n: times.length, failures };
  };
  await Promise.all([
    ...Array.from({ length: connections }, loop),
    probe("/healthz", "GET", "/healthz"),
    probe("/readyz", "GET", "/readyz"),
    probe("/v1/authorize", "POST", "/v1/authorize", { "content-type": "application/json", authorization: `Bearer ${gateway.key}` }, authorizeBody),
  ]);
  agent.destroy();
  probeAgent.destroy();
  const shedAfter = await shedCounts(port);
  const shedByServer = Object.fromEntries(Object.entries(shedAfter).map(([reason, n]) => [reason, n - (shedBefore[reason] ?? 0)]));
  const total = admitted.length + refused.length;
  return {
    connections,
    retry: connections === 8 ? "-" : honourRetryAfter ? "honours Retry-After" : "at once",
    admittedRps: Math.round(admitted.length / seconds),
    refusedRps: Math.round(refused.length / seconds),
    refusedShare: total ? Math.round((refused.length / total) * 1000) / 1000 : 0,
    p50: percentile(admitted, 50),
    p99: percentile(admitted, 99),
    refusedP99: percentile(refused, 99),
    probes,
    other,
    shedByServer,
  };
}

/** The stage: one server with the gate at its defaults (or as `env` sets it), c8 then c256 twice. */
export async function measureOverload(workload: Workload, run: OverloadRun, env: Record<string, string> = {}): Promise<OverloadFigures[]> {
  const server = await run.start(env);
  try {
    // Warm-up, not measured: caches filled, the code paths compiled.
    await drive(workload, run.port, 8, 2, true);
    const c8 = await drive(workload, run.port, 8, run.seconds, true);
    const polite = await drive(workload, run.port, 256, run.seconds, true);
    const eager = await drive(workload, run.port, 256, run.seconds, false);
    return [c8, polite, eager];
  } finally {
    await run.stop(server);
  }
}

export function reportOverload(figures: OverloadFigures[]): void {
  const [c8] = figures;
  for (const f of figures) {
    const probes = Object.entries(f.probes).map(([name, p]) => `${name} p99 ${p.p99} ms${p.failures ? ` (${p.failures}/${p.n} not 200)` : ""}`).join(", ");
    const ratios = f === c8 ? "" : ` | admitted/c8 ${(f.admittedRps / c8!.admittedRps).toFixed(2)}, p99/c8 ${(f.p99 / c8!.p99).toFixed(1)}×`;
    console.log(
      `overload c${f.connections}${f.retry === "-" ? "" : ` (retry ${f.retry})`}: admitted ${f.admittedRps} req/s p50 ${f.p50} ms p99 ${f.p99} ms, ` +
        `refused ${f.refusedRps} req/s (${(f.refusedShare * 100).toFixed(1)}%, p99 ${f.refusedP99} ms; server shed ${JSON.stringify(f.shedByServer)})${f.other ? `, ${f.other} other` : ""}; probes: ${probes}${ratios}`,
    );
  }
}
