import type { Principal } from "./auth/principal.js";
import type { Authorizer } from "./authz/authorizer.js";
import type { AuthzClient } from "./authz/client.js";
import type { ConsistencyTracker } from "./authz/consistency.js";
import type { OutboxApplier } from "./authz/outbox-applier.js";
import type { StampedCache } from "./authz/stamped-cache.js";
import type { Coalescer } from "./coalescer.js";
import type { Config } from "./config.js";
import type { Db, Row } from "./db/database.js";
import type { Loaders } from "./graphql/loaders.js";
import type { Logger } from "./logger.js";
import type { GatewayVerdict } from "./authz/decision.js";
import type { Mailer } from "./mailer.js";
import type { SecretBox } from "./crypto/secret-box.js";
import type { Metrics } from "./observability/metrics.js";
import type { LimitCounters } from "./limits/counters.js";

/** Answers kept across requests, each valid for one stamp (authz/stamped-cache.ts). */
export interface AuthzCaches {
  /** Permission checks, by checkKey. */
  checks: StampedCache<boolean>;
  /** API keys, by the SHA-256 of their secret. */
  apiKeys: StampedCache<Row<"api_keys">>;
  /** The gateway's decisions, by principal and question. */
  decisions: StampedCache<GatewayVerdict>;
}

/** What lives as long as the process: storage, SpiceDB, configuration. */
export interface AppDeps {
  config: Config;
  db: Db;
  authzClient: AuthzClient;
  consistency: ConsistencyTracker;
  outbox: OutboxApplier;
  caches: AuthzCaches;
  secretBox: SecretBox;
  /** Emails invitation links when SMTP_URL is set; absent, the inviter receives the token. */
  mailer: Mailer | undefined;
  /** Allowed invocations per team and minute, written in batches. */
  usage: Coalescer<number>;
  /** When each API key was last used, written in batches. */
  keyLastUsed: Coalescer<Date>;
  /** The gateway's rate-limit and budget counters: in Redis with REDIS_URL, else in this process. */
  limitCounters: LimitCounters;
  /**
   * `draining` is set on SIGTERM: /readyz answers 503 so load balancers stop sending, while
   * requests drain. `failed` is set when serving is no longer safe (the embedded SpiceDB's
   * database lock was lost): every request is refused with 503, and the server exits.
   */
  lifecycle: { draining: boolean; failed?: string };
  logger: Logger;
  /** This process's Prometheus metrics (GET /metrics). */
  metrics: Metrics;
}

/**
 * What the running mutation will record. modules/audit/audit.ts starts it from the field and its
 * arguments; services add what only they know (before/after, the organization of an
 * invitation); writeTransaction writes it, as SUCCESS, inside the change's own transaction.
 */
export interface AuditDraft {
  action: string;
  orgId?: string;
  teamId?: string;
  targetId?: string;
  diff?: unknown;
  /** Set by describeAudit: the service named the target itself. */
  explicit?: boolean;
  written?: boolean;
  /** `orgId` as read before the mutation ran, when the caller was a member of it then (a member who leaves is still one for this event). */
  memberAtStart?: string;
  /** Set when the event went to the security log, whose bound is restored after the mutation. */
  securitySource?: string;
}

/** What lives as long as one request. A fresh one per request: scope-auth caches on it. */
export interface AppContext {
  deps: AppDeps;
  db: Db;
  requestId: string;
  /** The peer address of the HTTP connection (never a forwarded header); undefined outside the Node listener. */
  clientAddress: string | undefined;
  principal: Principal | undefined;
  authz: Authorizer;
  loaders: Loaders;
  /** The running mutation's audit event (modules/audit/audit.ts). */
  audit?: AuditDraft;
  logger: Logger;
}
