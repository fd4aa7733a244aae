import { sql } from "kysely";
import type { Db } from "./database.js";

/** Resolves when Postgres answers a trivial query (readiness probe); rejects otherwise. */
export async function probeDatabase(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
