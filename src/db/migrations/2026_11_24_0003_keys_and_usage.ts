import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("service_accounts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("service_accounts_team_name", ["team_id", "name"])
    .execute();
  await db.schema.alterTable("api_keys").addForeignKeyConstraint("api_keys_service_account", ["service_account_id"], "service_accounts", ["id"], (c) => c.onDelete("cascade")).execute();

  // Invocations counted per team and minute: the gateway's counts are coalesced in memory and
  // added here in batches, not written once per call.
  await db.schema
    .createTable("usage_counts")
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("minute", "timestamptz", (c) => c.notNull())
    .addColumn("invocations", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("usage_counts_pk", ["team_id", "minute"])
    .execute();
  await db.schema.createIndex("usage_counts_org_minute").on("usage_counts").columns(["org_id", "minute"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("usage_counts").execute();
  await db.schema.alterTable("api_keys").dropConstraint("api_keys_service_account").execute();
  await db.schema.dropTable("service_accounts").execute();
}
