import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import pg from "pg";
import type { Database, Db } from "./database.js";
import { tracePGliteQueries } from "../observability/query-spans.js";
import { migrateToLatest } from "./migrate.js";

export interface DatabaseHandle {
  db: Db;
  kind: "postgres" | "pglite";
  /** The connection pool of a Postgres server (PGlite has none: one in-process connection). */
  pool?: pg.Pool;
  close(): Promise<void>;
}

/**
 * A Postgres server when `databaseUrl` is set, else PGlite (real Postgres compiled to WASM)
 * in `<dataDir>/pgdata`. Either way the same migrations run before anything else. With
 * `tracing`, PGlite's statements are spans (a Postgres server's are the pg instrumentation's).
 */
export async function openDatabase(
  options: { databaseUrl: string | undefined; dataDir: string; tracing?: boolean },
  onIdleClientError: (error: Error) => void = (error) => console.error("Postgres connection lost:", error.message),
): Promise<DatabaseHandle> {
  let handle: DatabaseHandle;
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10 });
    // An idle connection the server closes (restart, failover) is re-emitted here; without a
    // listener it would crash the process. The pool replaces it on the next query.
    pool.on("error", onIdleClientError);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    handle = { db, kind: "postgres", pool, close: () => db.destroy() };
  } else {
    const pglite = await PGlite.create(join(options.dataDir, "pgdata"));
    const dialect = new PGliteDialect(pglite);
    const db = new Kysely<Database>({ dialect: options.tracing ? tracePGliteQueries(dialect) : dialect });
    handle = { db, kind: "pglite", close: () => db.destroy() };
  }
  try {
    await migrateToLatest(handle.db);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
