import type { Kysely } from "kysely";

/**
 * Issue 16 §3, key lifecycle. An organization's key policy (null cap: none; require_expiry:
 * refuse keys without one). A key's rotation: the previous secret's hash and until when it
 * still authenticates (its grace period, never past the key's expiry; at most one previous
 * secret), and who minted the current secret (rotated_by) and the previous one
 * (previous_rotated_by), so that revoking "every key a user minted" also reaches secrets the
 * user obtained by rotation.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("organizations")
    .addColumn("key_max_lifetime_days", "integer")
    .addColumn("key_require_expiry", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema
    .alterTable("api_keys")
    .addColumn("previous_secret_hash", "text")
    .addColumn("previous_secret_expires_at", "timestamptz")
    .addColumn("rotated_at", "timestamptz")
    .addColumn("rotated_by", "text")
    .addColumn("previous_rotated_by", "text")
    .execute();
  await db.schema.createIndex("api_keys_previous_secret_hash").on("api_keys").column("previous_secret_hash").unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("api_keys_previous_secret_hash").execute();
  await db.schema
    .alterTable("api_keys")
    .dropColumn("previous_secret_hash")
    .dropColumn("previous_secret_expires_at")
    .dropColumn("rotated_at")
    .dropColumn("rotated_by")
    .dropColumn("previous_rotated_by")
    .execute();
  await db.schema.alterTable("organizations").dropColumn("key_max_lifetime_days").dropColumn("key_require_expiry").execute();
}
