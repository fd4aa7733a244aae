import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { DataDirLockedError } from "../src/db/data-dir-lock.js";
import { createLogger } from "../src/logger.js";
import { startOrgraph } from "../src/orgraph.js";
import { startTestApp, type TestApp } from "./helpers/app.js";

/**
 * One server with the embedded SpiceDB per data (a PGlite folder, or a database on a
 * Postgres server): a second would serve permissions the first one changes behind its back.
 */
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

const sameData = () =>
  loadConfig({
    ...(app.database.databaseUrl ? { DATABASE_URL: app.database.databaseUrl } : {}),
    ORGRAPH_DATA_DIR: app.database.dataDir,
  });

describe("a second server on the same data", () => {
  it("refuses to start, saying why", async () => {
    const second = startOrgraph(sameData(), createLogger("silent"));
    await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(second).rejects.toThrow(app.database.databaseUrl ? /Another Orgraph server with the embedded SpiceDB/ : /is in use by the Orgraph server/);
  });

  it("starts once the first one has stopped", async () => {
    await app.orgraph.close();
    const next = await startOrgraph(sameData(), createLogger("silent"));
    await next.close();
    // Let afterAll close an already-closed app harmlessly.
    app.orgraph.close = async () => {};
  });
});
