import { sql, type Kysely } from "kysely";

/**
 * The security log: mutations by callers who are not members of the organization they name
 * (strangers, signed-out callers, attempts on other organizations' ids). Kept out of the
 * organizations' hash chains, and bounded: the newest rows per source (a client address or a
 * principal) and overall; what was trimmed is counted per source.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("security_events")
    .addColumn("seq", "bigserial", (c) => c.primaryKey())
    .addColumn("at", "timestamptz", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("client_address", "text")
    .addColumn("actor_id", "text")
    .addColumn("auth_method", "text")
    .addColumn("auth_ref", "text")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("claimed_org_id", "text")
    .addColumn("team_id", "text")
    .addColumn("target_id", "text")
    .addColumn("result", "text", (c) => c.notNull().check(sql`result in ('SUCCESS', 'DENIED', 'ERROR')`))
    .addColumn("error", "text")
    .addColumn("diff", "jsonb")
    .addColumn("request_id", "text")
    .execute();
  await db.schema.createIndex("security_events_source").on("security_events").columns(["source", "seq"]).execute();
  await db.schema
    .createTable("security_log_drops")
    .addColumn("source", "text", (c) => c.primaryKey())
    .addColumn("dropped", "bigint", (c) => c.notNull())
    .addColumn("last_dropped_at", "timestamptz", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("security_log_drops").execute();
  await db.schema.dropTable("security_events").execute();
}
