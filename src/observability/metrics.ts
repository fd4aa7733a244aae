import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { GATEWAY_OUTCOMES, type GatewayOutcome } from "../authz/decision.js";
import type { AuthzCaches } from "../context.js";
import { SPEC_CODES } from "../errors.js";
import type { Logger } from "../logger.js";
import { OperationNames } from "./operation-names.js";

export type SpiceDbMethod = "writeSchema" | "write" | "checkBulk" | "checkWithTrace" | "lookupResources" | "readRelationships";
export type RateLimitKind = "mutation" | "decision";

/** The codes a GraphQL error may carry once masked (app.ts); anything else is counted as OTHER. */
const ERROR_CODES = [...SPEC_CODES, "INTERNAL_SERVER_ERROR"];

/** From a cached gateway decision (well under a millisecond) to a slow console page or a remote SpiceDB's deadline. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const decisionLabels = (outcome: GatewayOutcome) => ({ result: outcome === "granted" ? "allow" : "deny", reason: outcome });

/** What is read when Prometheus scrapes rather than counted as it happens. */
export interface ScrapeSources {
  /** Read at each scrape, so a cache swapped after start (the benchmark's) is the one reported. */
  caches: () => AuthzCaches;
  outbox: () => Promise<{ depth: number; oldestAgeSeconds: number }>;
  /** A pg Pool (DATABASE_URL). PGlite is one in-process connection with no pool: nothing is reported. */
  pool: { totalCount: number; idleCount: number; waitingCount: number } | undefined;
  logger: Logger;
}

/**
 * One Orgraph's Prometheus metrics, in a registry of its own (tests run several Orgraphs in one
 * process; prom-client's global registry would mix them). Every label value is from a fixed set
 * or bounded (operation names: operation-names.ts): no id, email or credential ever becomes one.
 */
export const SHED_REASONS = ["queue_full", "client_queue_full", "queue_timeout"] as const;
export type ShedReason = (typeof SHED_REASONS)[number];

export class Metrics {
  readonly registry = new Registry();
  private readonly operationNames = new OperationNames();
  private readonly httpDuration: Histogram<"route" | "method" | "status">;
  private readonly operationDuration: Histogram<"operation" | "type">;
  private readonly graphqlErrors: Counter<"code">;
  private readonly spicedbDuration: Histogram<"method" | "outcome">;
  private readonly decisions: Counter<"result" | "reason">;
  private readonly rateLimited: Counter<"kind">;
  private readonly shed: Counter<"reason">;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: "orgraph_http_request_duration_seconds",
      help: "HTTP requests by route template, method and status, from arrival to the end of the response",
      labelNames: ["route", "method", "status"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.operationDuration = new Histogram({
      name: "orgraph_graphql_operation_duration_seconds",
      help: "GraphQL operations executed, by operation name (bounded; (anonymous), (other)) and type",
      labelNames: ["operation", "type"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.graphqlErrors = new Counter({ name: "orgraph_graphql_errors_total", help: "Errors in GraphQL responses, by extensions.code", labelNames: ["code"], registers });
    this.spicedbDuration = new Histogram({
      name: "orgraph_spicedb_call_duration_seconds",
      help: "Calls to SpiceDB by method and outcome (ok, error)",
      labelNames: ["method", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.decisions = new Counter({ name: "orgraph_gateway_decisions_total", help: "Gateway decisions (/v1/authorize) by result and reason", labelNames: ["result", "reason"], registers });
    this.rateLimited = new Counter({ name: "orgraph_rate_limited_total", help: "Requests refused by a rate limit (429), by kind", labelNames: ["kind"], registers });
    this.shed = new Counter({
      name: "orgraph_graphql_shed_total",
      help: "GraphQL requests refused by admission (503 OVERLOADED): queue_full, client_queue_full (the client address holds GRAPHQL_MAX_QUEUED_PER_CLIENT places), or queue_timeout (waited GRAPHQL_QUEUE_MS)",
      labelNames: ["reason"],
      registers,
    });
    // Zero from the start, so that rate() and "before" values are defined.
    for (const code of [...ERROR_CODES, "OTHER"]) this.graphqlErrors.inc({ code }, 0);
    for (const outcome of GATEWAY_OUTCOMES) this.decisions.inc(decisionLabels(outcome), 0);
    for (const kind of ["mutation", "decision"]) this.rateLimited.inc({ kind }, 0);
    for (const reason of SHED_REASONS) this.shed.inc({ reason }, 0);
  }

  observeHttp(route: string, method: string, status: string, seconds: number): void {
    this.httpDuration.observe({ route, method, status }, seconds);
  }

  /** `signedIn`: the caller is authenticated, so a name it brings may become a label (operation-names.ts). */
  observeOperation(name: string | undefined, type: string, signedIn: boolean, seconds: number): void {
    this.operationDuration.observe({ operation: this.operationNames.label(name, signedIn), type }, seconds);
  }

  countGraphQLError(code: unknown): void {
    this.graphqlErrors.inc({ code: typeof code === "string" && ERROR_CODES.includes(code) ? code : "OTHER" });
  }

  /** Starts timing a SpiceDB call; the returned function ends it with its outcome. */
  timeSpiceDb(method: SpiceDbMethod): (outcome: "ok" | "error") => void {
    const end = this.spicedbDuration.startTimer({ method });
    return (outcome) => end({ outcome });
  }

  countDecision(outcome: GatewayOutcome): void {
    this.decisions.inc(decisionLabels(outcome));
  }

  countRateLimited(kind: RateLimitKind): void {
    this.rateLimited.inc({ kind });
  }

  countShed(reason: ShedReason): void {
    this.shed.inc({ reason });
  }

  /** Registers what is read at scrape time: cache counts, the outbox, the Postgres pool. */
  collectAtScrape(sources: ScrapeSources): void {
    const registers = [this.registry];
    new Counter({
      name: "orgraph_authz_cache_lookups_total",
      help: "Lookups in the cross-request caches (authz/stamped-cache.ts) by cache and result (hit, miss)",
      labelNames: ["cache", "result"],
      registers,
      collect() {
        // The caches count themselves (a plain increment on the hot path); reported as they stand.
        this.reset();
        for (const [cache, { hits, misses }] of Object.entries(sources.caches())) {
          this.inc({ cache, result: "hit" }, hits);
          this.inc({ cache, result: "miss" }, misses);
        }
      },
    });
    // Registered before the outbox gauges: prom-client collects in registration order (each up to
    // its first await), so the pool is read as the scrape found it, before the outbox query
    // below takes a connection from it.
    const { pool } = sources;
    if (pool) {
      const poolGauge = (name: string, help: string, read: () => number) =>
        new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(read());
          },
        });
      poolGauge("orgraph_pg_pool_connections", "Postgres connections open in the pool (idle or in use)", () => pool.totalCount);
      poolGauge("orgraph_pg_pool_idle_connections", "Postgres connections open and idle", () => pool.idleCount);
      poolGauge("orgraph_pg_pool_waiting_requests", "Queries waiting for a Postgres connection", () => pool.waitingCount);
    }
    // Both gauges are collected at once (in parallel): they share one read of the outbox.
    let reading: Promise<{ depth: number; oldestAgeSeconds: number }> | undefined;
    const readOutbox = () =>
      (reading ??= sources
        .outbox()
        .catch((error: unknown) => {
          // Neither 0 nor the last value: both would claim a state nobody read.
          sources.logger.warn({ err: error }, "metrics: could not read the outbox");
          return { depth: NaN, oldestAgeSeconds: NaN };
        })
        .finally(() => (reading = undefined)));
    new Gauge({
      name: "orgraph_outbox_depth",
      help: "Relationship changes queued for SpiceDB (authz_outbox); NaN when Postgres cannot be read",
      registers,
      async collect() {
        this.set((await readOutbox()).depth);
      },
    });
    new Gauge({
      name: "orgraph_outbox_oldest_age_seconds",
      help: "Age of the oldest queued change (0 when empty), by Postgres's clock; NaN when Postgres cannot be read",
      registers,
      async collect() {
        this.set((await readOutbox()).oldestAgeSeconds);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
