import { createServer } from "node:http";
import { ConfigError, loadConfig } from "./config.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { createLogger } from "./logger.js";
import { startOrgraph } from "./orgraph.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const orgraph = await startOrgraph(config, logger);
  const server = createServer(orgraph.app);
  server.listen(config.port, () => {
    logger.info(
      { port: config.port, database: config.databaseUrl ? "postgres" : `pglite:${config.dataDir}`, spicedb: config.spicedb.kind },
      `Orgraph listening on http://localhost:${config.port}/graphql`,
    );
  });

  // Graceful shutdown: stop accepting, let in-flight requests finish, then release storage.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    server.close(() => {
      orgraph.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
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
