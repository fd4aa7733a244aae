import { ConfigError, loadConfig } from "./config.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { createLogger } from "./logger.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Tracing starts before node:http and pg are loaded, so the app is imported after it
  // (these imports stay dynamic). Without OTEL_EXPORTER_OTLP_ENDPOINT no SDK is even loaded.
  const tracing = config.tracing ? (await import("./observability/tracing.js")).startTracing() : undefined;
  const { createHttpServer } = await import("./app.js");
  const { startOrgraph } = await import("./orgraph.js");
  const orgraph = await startOrgraph(config, logger);
  const server = createHttpServer(orgraph.app, orgraph.deps);
  server.listen(config.port, () => {
    logger.info(
      { port: config.port, database: config.databaseUrl ? "postgres" : `pglite:${config.dataDir}`, spicedb: config.spicedb.kind, tracing: config.tracing },
      `Orgraph listening on http://localhost:${config.port}/graphql`,
    );
  });

  // Graceful shutdown: /readyz turns 503 so load balancers stop sending; requests already
  // accepted are served for a grace period (closing at once would also drop connections whose
  // request the event loop has not read yet); then stop listening, finish in-flight requests,
  // and release storage; then send the last spans.
  let stopping = false;
  const DRAIN_MS = config.shutdownDrainMs;
  const stop = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    orgraph.deps.lifecycle.draining = true;
    logger.info({ signal, drainMs: DRAIN_MS }, "shutting down");
    setTimeout(() => {
      server.close(() => {
        orgraph
          .close()
          .then(() => tracing?.shutdown())
          .then(
            () => process.exit(exitCode),
            () => process.exit(1),
          );
      });
    }, DRAIN_MS);
    setTimeout(() => process.exit(1), DRAIN_MS + 10_000).unref();
  };
  // Serving is no longer safe (orgraph.ts already refuses every request): exit, with an error.
  void orgraph.failed.then(() => stop("fatal", 1));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirLockedError) {
    console.error(error.message);
  } else {
    console.error("Orgraph failed to start:", error);
  }
  process.exit(1);
});
