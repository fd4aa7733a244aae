import { sql, type Kysely } from "kysely";

// Migrations take Kysely<any> and never import application code: they must keep working as
// the code moves on.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("organizations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("email", "text", (c) => c.notNull().unique())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("org_memberships")
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("role", "text", (c) => c.notNull().check(sql`role in ('ADMIN', 'BILLING_ADMIN', 'MEMBER')`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("org_memberships_pk", ["org_id", "user_id"])
    .execute();
  await db.schema.createIndex("org_memberships_user").on("org_memberships").column("user_id").execute();

  await db.schema
    .createTable("teams")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("is_default", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("teams_org_name", ["org_id", "name"])
    .execute();
  // One default team per organization.
  await sql`create unique index teams_one_default on teams (org_id) where is_default`.execute(db);

  await db.schema
    .createTable("team_memberships")
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("principal_id", "text", (c) => c.notNull())
    .addColumn("principal_type", "text", (c) => c.notNull().check(sql`principal_type in ('user', 'service_account')`))
    .addColumn("role", "text", (c) => c.notNull().check(sql`role in ('ADMIN', 'MEMBER', 'OPERATOR', 'VIEWER')`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("team_memberships_pk", ["team_id", "principal_id"])
    .execute();
  await db.schema.createIndex("team_memberships_principal").on("team_memberships").column("principal_id").execute();

  await db.schema
    .createTable("invitations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("teams", "jsonb")
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('PENDING', 'ACCEPTED', 'REVOKED')`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("invited_by", "text", (c) => c.notNull())
    .addColumn("accepted_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('PERSONAL', 'TEAM', 'SERVICE_ACCOUNT')`))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("secret_hash", "text", (c) => c.notNull().unique())
    .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("cascade"))
    .addColumn("team_id", "text", (c) => c.references("teams.id").onDelete("cascade"))
    .addColumn("service_account_id", "text")
    .addColumn("type", "text")
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz")
    .addColumn("last_used_at", "timestamptz")
    .addColumn("revoked_at", "timestamptz")
    .execute();

  // The durable relationship record and its outbox (see src/authz/relationship-writes.ts).
  await db.schema
    .createTable("authz_relationships")
    .addColumn("resource_type", "text", (c) => c.notNull())
    .addColumn("resource_id", "text", (c) => c.notNull())
    .addColumn("relation", "text", (c) => c.notNull())
    .addColumn("subject_type", "text", (c) => c.notNull())
    .addColumn("subject_id", "text", (c) => c.notNull())
    .addColumn("subject_relation", "text", (c) => c.notNull().defaultTo(""))
    // Which organization and team the relationship belongs to: removing a member from an
    // organization, or deleting a team, removes everything recorded under it in one query.
    .addColumn("org_id", "text")
    .addColumn("team_id", "text")
    .addPrimaryKeyConstraint("authz_relationships_pk", [
      "resource_type",
      "resource_id",
      "relation",
      "subject_type",
      "subject_id",
      "subject_relation",
    ])
    .execute();
  await db.schema
    .createIndex("authz_relationships_subject")
    .on("authz_relationships")
    .columns(["subject_type", "subject_id"])
    .execute();
  await db.schema.createIndex("authz_relationships_org").on("authz_relationships").column("org_id").execute();
  await db.schema.createIndex("authz_relationships_team").on("authz_relationships").column("team_id").execute();

  await db.schema
    .createTable("authz_outbox")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("resource_type", "text", (c) => c.notNull())
    .addColumn("resource_id", "text", (c) => c.notNull())
    .addColumn("relation", "text", (c) => c.notNull())
    .addColumn("subject_type", "text", (c) => c.notNull())
    .addColumn("subject_id", "text", (c) => c.notNull())
    .addColumn("subject_relation", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    "authz_outbox",
    "authz_relationships",
    "api_keys",
    "invitations",
    "team_memberships",
    "teams",
    "org_memberships",
    "users",
    "organizations",
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
