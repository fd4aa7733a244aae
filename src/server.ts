import { createServer } from "node:http";
import { httpListener } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { createLogger } from "./logger.js";
import { startOrgraph } from "./orgraph.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const orgraph = await startOrgraph(config, logger);
  const server = createServer(httpListener(orgraph.app, orgraph.deps));
  server.listen(config.port, () => {
    logger.info(
      { port: config.port, database: config.databaseUrl ? "postgres" : `pglite:${config.dataDir}`, spicedb: config.spicedb.kind },
      `Orgraph listening on http://localhost:${config.port}/graphql`,
    );
  });

  // Graceful shutdown: /readyz turns 503 so load balancers stop sending; requests already
  // accepted are served for a grace period (closing at once would also drop connections whose
  // request the event loop has not read yet); then stop listening, finish in-flight requests,
  // and release storage.
  let stopping = false;
  const DRAIN_MS = config.shutdownDrainMs;
  const stop = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    orgraph.deps.lifecycle.draining = true;
    logger.info({ signal, drainMs: DRAIN_MS }, "shutting down");
    setTimeout(() => {
      server.close(() => {
        orgraph.close().then(
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
