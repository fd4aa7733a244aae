import { sql, type Kysely } from "kysely";

/**
 * SSO per organization (issue 16 §1).
 *
 * - `users` gains `managed_by_org_id`, `sso_issuer`, `sso_subject`: an account a connection
 *   provisioned belongs to that organization (a managed account) and is found again by
 *   (organization, issuer, subject), never by email. Email stays unique among platform accounts
 *   (managed_by_org_id null) and becomes unique per managing organization, so an organization's
 *   IdP can mint any email without ever reaching the platform account of it.
 *   `sso_reconciled_iat`: the iat of the newest token that reconciled the account, so a replayed
 *   older token cannot re-grant what a newer one took away.
 * - `org_memberships` and `team_memberships` gain `sso_managed`: whether a connection's sign-in
 *   reconciles them (false: granted by hand, never touched by SSO).
 * - `sso_connections`: one per organization; (issuer, audience) unique across organizations, the
 *   issuer compared normalised (`issuer_normalized`: scheme and host lower-cased, trailing slashes
 *   stripped), while `issuer` keeps it as given (the token's iss must match it exactly).
 * - `sso_group_mappings`: an IdP group → an org role and team roles.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("users")
    .addColumn("managed_by_org_id", "text", (c) => c.references("organizations.id").onDelete("cascade"))
    .addColumn("sso_issuer", "text")
    .addColumn("sso_subject", "text")
    .addColumn("sso_reconciled_iat", "double precision")
    .execute();
  await sql`ALTER TABLE users DROP CONSTRAINT users_email_key`.execute(db);
  await sql`CREATE UNIQUE INDEX users_platform_email ON users (email) WHERE managed_by_org_id IS NULL`.execute(db);
  await sql`CREATE UNIQUE INDEX users_managed_email ON users (managed_by_org_id, email) WHERE managed_by_org_id IS NOT NULL`.execute(db);
  await sql`CREATE UNIQUE INDEX users_sso_subject ON users (managed_by_org_id, sso_issuer, sso_subject) WHERE managed_by_org_id IS NOT NULL`.execute(db);

  await db.schema.alterTable("org_memberships").addColumn("sso_managed", "boolean", (c) => c.notNull().defaultTo(false)).execute();
  await db.schema.alterTable("team_memberships").addColumn("sso_managed", "boolean", (c) => c.notNull().defaultTo(false)).execute();

  await db.schema
    .createTable("sso_connections")
    .addColumn("org_id", "text", (c) => c.primaryKey().references("organizations.id").onDelete("cascade"))
    .addColumn("issuer", "text", (c) => c.notNull())
    .addColumn("issuer_normalized", "text", (c) => c.notNull())
    .addColumn("audience", "text", (c) => c.notNull())
    .addColumn("jwks_url", "text")
    .addColumn("public_key_pem", "text")
    .addColumn("groups_claim", "text", (c) => c.notNull())
    // Moves on every change: the verifier cached for the connection is keyed by it.
    .addColumn("version", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("updated_by", "text")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("sso_connections_issuer_audience", ["issuer_normalized", "audience"])
    .execute();

  await db.schema
    .createTable("sso_group_mappings")
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("group_name", "text", (c) => c.notNull())
    .addColumn("org_role", "text")
    // [{ teamId, role }]; teams deleted since are skipped when read.
    .addColumn("teams", "jsonb", (c) => c.notNull())
    .addColumn("set_by", "text", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("sso_group_mappings_pk", ["org_id", "group_name"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("sso_group_mappings").execute();
  await db.schema.dropTable("sso_connections").execute();
  await db.schema.alterTable("team_memberships").dropColumn("sso_managed").execute();
  await db.schema.alterTable("org_memberships").dropColumn("sso_managed").execute();
  await sql`DELETE FROM users WHERE managed_by_org_id IS NOT NULL`.execute(db);
  await sql`DROP INDEX users_sso_subject`.execute(db);
  await sql`DROP INDEX users_managed_email`.execute(db);
  await sql`DROP INDEX users_platform_email`.execute(db);
  await sql`ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)`.execute(db);
  await db.schema.alterTable("users").dropColumn("sso_reconciled_iat").dropColumn("sso_subject").dropColumn("sso_issuer").dropColumn("managed_by_org_id").execute();
}
