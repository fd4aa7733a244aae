import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Issue 14: a team's rate limit and monthly budget (null: none), set by billing:manage holders.
  // limits_version moves with every change, so the gateway's monthly counter is keyed anew and
  // seeded from usage_counts (src/modules/gateway/limits.ts) rather than carrying a stale count.
  await db.schema
    .alterTable("teams")
    .addColumn("requests_per_minute", "integer")
    .addColumn("monthly_invocations", "integer")
    .addColumn("limits_version", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  // A key's own rate limit (null: none); the stricter of key and team applies.
  await db.schema.alterTable("api_keys").addColumn("requests_per_minute", "integer").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("api_keys").dropColumn("requests_per_minute").execute();
  await db.schema.alterTable("teams").dropColumn("requests_per_minute").dropColumn("monthly_invocations").dropColumn("limits_version").execute();
}
