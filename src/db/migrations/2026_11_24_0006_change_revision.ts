import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Counts committed changes, bumped inside every change's own transaction: together with the
  // shared ZedToken it stamps cached authorization answers (src/authz/stamped-cache.ts), so
  // that a change committed by any API process invalidates the caches of all of them.
  await db.schema.alterTable("authz_state").addColumn("revision", "bigint", (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("authz_state").dropColumn("revision").execute();
}
