import { createApp, type App } from "./app.js";
import { createJwtVerifier } from "./auth/jwt.js";
import { connectRemoteSpiceDb, readAuthzSchema, type AuthzClient } from "./authz/client.js";
import { startEmbeddedSpiceDb } from "./authz/embedded.js";
import { ConsistencyTracker } from "./authz/consistency.js";
import { OutboxApplier } from "./authz/outbox-applier.js";
import { outboxBacklog } from "./authz/relationship.repository.js";
import type { Config } from "./config.js";
import type { AppDeps, AuthzCaches } from "./context.js";
import { openDatabase } from "./db/connect.js";
import { lockDataDir, lockEmbeddedDatabase } from "./db/data-dir-lock.js";
import type { Logger } from "./logger.js";
import { StampedCache } from "./authz/stamped-cache.js";
import { createSmtpMailer } from "./mailer.js";
import { traceAuthzClient } from "./observability/authz-spans.js";
import { loadSecretKey, SecretBox } from "./crypto/secret-box.js";
import { createLastUsedRecorder, createUsageRecorder } from "./modules/usage/usage.js";
import { admitScopesWithoutWildcards } from "./modules/ip-allowlist/ip-allowlist.service.js";
import { instrumentAuthzClient } from "./observability/authz-client-metrics.js";
import { Metrics } from "./observability/metrics.js";
import { MemoryLimitCounters } from "./limits/counters.js";
import { RedisLimitCounters } from "./limits/redis-counters.js";

export interface Orgraph {
  app: App;
  deps: AppDeps;
  /** Settles when serving is no longer safe (lifecycle.failed); the server then exits. */
  failed: Promise<Error>;
  close(): Promise<void>;
}

/**
 * Starts everything but the HTTP listener: storage, SpiceDB (schema written, relationships
 * re-filled or caught up), the background flush, and the app. Used by the server, the tests
 * and the benchmarks alike; `authzClient` lets a test or benchmark put a wrapper in front of
 * SpiceDB (no configuration can turn authorization off); the metrics' instrumentation always
 * wraps the result, so that what Orgraph asked and got back is what is counted.
 */
/** Sized for a few hundred thousand relationships' worth of hot answers (~100 MB at most). */
export function createAuthzCaches(): AuthzCaches {
  return { checks: new StampedCache(200_000), apiKeys: new StampedCache(20_000), decisions: new StampedCache(100_000) };
}

export async function startOrgraph(
  config: Config,
  logger: Logger,
  options: { wrapAuthzClient?: (client: AuthzClient) => AuthzClient } = {},
): Promise<Orgraph> {
  const cleanups: (() => unknown)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  const lifecycle: AppDeps["lifecycle"] = { draining: false };
  let fail: (error: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  // Fail closed: from now on every request is refused, and the server shuts down.
  const lockLost = (error: Error) => {
    lifecycle.failed = "the embedded SpiceDB's database lock was lost";
    logger.fatal({ err: error }, "lost the embedded SpiceDB's database lock: another server may start on this database; refusing every request and shutting down");
    fail(error);
  };
  try {
    // PGlite's files and the in-memory SpiceDB belong to one process.
    if (!config.databaseUrl) cleanups.push(lockDataDir(config.dataDir, "the Orgraph server"));
    else if (config.spicedb.kind === "embedded") cleanups.push(await lockEmbeddedDatabase(config.databaseUrl, lockLost));
    const database = await openDatabase(config, (error) => logger.warn({ err: error }, "an idle Postgres connection was closed"));
    cleanups.push(() => database.close());

    const metrics = new Metrics();
    const embedded = config.spicedb.kind === "embedded";
    const rawClient = config.spicedb.kind === "embedded" ? await startEmbeddedSpiceDb() : connectRemoteSpiceDb(config.spicedb);
    const wrappedClient = options.wrapAuthzClient ? options.wrapAuthzClient(rawClient) : rawClient;
    // Metrics count what a test's wrapper (a fault) causes; the span, outermost, covers both.
    const measuredClient = instrumentAuthzClient(wrappedClient, metrics);
    const authzClient = config.tracing ? traceAuthzClient(measuredClient) : measuredClient;
    cleanups.push(() => authzClient.close());
    await authzClient.writeSchema(readAuthzSchema());
    // The schema gates every organization and team on its ip_allowed wildcards: any that lacks
    // them (created by a previous version during a rolling deploy) gets them now; the flush
    // below applies them, and what migrations queued, before this process is ready.
    const admitted = await admitScopesWithoutWildcards(database.db);
    if (admitted > 0) logger.info({ relationships: admitted }, "recorded missing ip_allowed wildcards");

    // Several API processes may share a remote SpiceDB: they share the freshest token through Postgres.
    // A remote SpiceDB keeps its own clock: each expiry also ends cached answers once it may have caught up.
    const consistency = new ConsistencyTracker(embedded ? undefined : database.db, database.db, embedded ? 0 : config.authzClockSkewMs);
    // With PGlite, the data folder's lock keeps every other writer out (bootstrap included).
    const outbox = new OutboxApplier(database.db, authzClient, consistency, logger, embedded && !config.databaseUrl);
    if (embedded) {
      const count = await outbox.refill();
      logger.info({ relationships: count }, "embedded SpiceDB filled from the relationship record");
    } else {
      await outbox.flush();
    }
    outbox.startBackgroundFlush();
    cleanups.push(() => outbox.stop());

    const jwt = config.jwt ? await createJwtVerifier(config.jwt) : undefined;
    const secretBox = new SecretBox(loadSecretKey(config.secretKey, config.dataDir, logger));
    const usage = createUsageRecorder(database.db, logger);
    const keyLastUsed = createLastUsedRecorder(database.db, logger);
    usage.start(2_000);
    keyLastUsed.start(5_000);
    cleanups.push(() => usage.stop(), () => keyLastUsed.stop());
    const limitCounters = config.redisUrl ? await RedisLimitCounters.connect(config.redisUrl, logger) : new MemoryLimitCounters();
    cleanups.push(() => limitCounters.close());
    const mailer = config.mail ? createSmtpMailer(config.mail) : undefined;
    if (mailer) cleanups.push(() => mailer.close());
    const deps: AppDeps = {
      config, db: database.db, authzClient, consistency, outbox, caches: createAuthzCaches(), secretBox, mailer, usage, keyLastUsed, limitCounters, lifecycle, logger, metrics,
    };
    metrics.collectAtScrape({ caches: () => deps.caches, outbox: () => outboxBacklog(database.db), pool: database.pool, logger });
    return { app: createApp(deps, { jwt }), deps, failed, close: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
