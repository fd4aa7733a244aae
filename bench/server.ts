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
process.on("SIGTERM", () => server.close(() => orgraph.close().then(() => process.exit(0))));
