import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // The newest ZedToken any API process has written: shared through Postgres so that every
  // process reads SpiceDB at least as fresh as any acknowledged write (remote SpiceDB).
  await db.schema
    .createTable("authz_state")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("zed_token", "text", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("authz_state").execute();
}
