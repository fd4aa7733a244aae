import { createHttpServer } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startOrgraph } from "../src/orgraph.js";
import { allowAll, NeverKeeps, oneCheckPerQuestion } from "./authz-wrappers.js";

/** The server under benchmark: `orgraph`, `uncached`, `naive` or `ceiling` (argv[2]). */
const mode = process.argv[2] ?? "orgraph";
const wrap = mode === "ceiling" ? allowAll : mode === "naive" ? oneCheckPerQuestion : undefined;
const config = loadConfig();
const orgraph = await startOrgraph(config, createLogger("warn"), { wrapAuthzClient: wrap });
// uncached: the real thing with caches that never keep an answer (every request asks SpiceDB);
// naive: no batching and no caching either.
if (mode === "uncached" || mode === "naive") orgraph.deps.caches = { checks: new NeverKeeps(), apiKeys: new NeverKeeps(), decisions: new NeverKeeps() };
const server = createHttpServer(orgraph.app, orgraph.deps);
server.keepAliveTimeout = 60_000;
server.listen(config.port, () => console.log(`ready ${mode}`));
// BENCH_LOOP_DELAY=1: how long the event loop was held up, printed at the end (bench/overload.ts).
const loopDelay = process.env.BENCH_LOOP_DELAY ? (await import("node:perf_hooks")).monitorEventLoopDelay({ resolution: 10 }) : undefined;
loopDelay?.enable();
process.on("SIGTERM", () => {
  if (loopDelay) console.error(`event-loop delay: p50 ${(loopDelay.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`);
  server.closeAllConnections();
  server.close(() => orgraph.close().then(() => process.exit(0)));
});
