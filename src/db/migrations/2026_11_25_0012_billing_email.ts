import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // Where invoices and spend alerts go: set by billing:manage holders, read by billing:view.
  await db.schema.alterTable("organizations").addColumn("billing_email", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("organizations").dropColumn("billing_email").execute();
}
