import { createServer } from "node:http";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startOrgraph } from "../src/orgraph.js";
import { allowAll, oneCheckPerQuestion } from "./authz-wrappers.js";

/** The server under benchmark: `orgraph`, `naive` or `ceiling` (argv[2]). */
const mode = process.argv[2] ?? "orgraph";
const wrap = mode === "ceiling" ? allowAll : mode === "naive" ? oneCheckPerQuestion : undefined;
const config = loadConfig();
const orgraph = await startOrgraph(config, createLogger("warn"), { wrapAuthzClient: wrap });
const server = createServer(orgraph.app);
server.keepAliveTimeout = 60_000;
server.listen(config.port, () => console.log(`ready ${mode}`));
process.on("SIGTERM", () => server.close(() => orgraph.close().then(() => process.exit(0))));
