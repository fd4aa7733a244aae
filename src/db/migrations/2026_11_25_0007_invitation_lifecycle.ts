import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // An account created by a signed-out invitation acceptance is unverified until its first
  // verified sign-in, which revokes every credential minted before it (account pre-hijacking).
  await db.schema.alterTable("users").addColumn("verified_at", "timestamptz").execute();
  // Accounts that existed before: verified, except those that accepted an invitation (which may
  // have been a signed-out acceptance): they verify at their next verified sign-in.
  await sql`update users set verified_at = created_at
    where not exists (select 1 from invitations where invitations.accepted_by = users.id)`.execute(db);

  await db.schema.alterTable("invitations").addColumn("revoked_by", "text").execute();
  await db.schema.alterTable("invitations").addColumn("decided_at", "timestamptz").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("invitations").dropColumn("decided_at").execute();
  await db.schema.alterTable("invitations").dropColumn("revoked_by").execute();
  await db.schema.alterTable("users").dropColumn("verified_at").execute();
}
