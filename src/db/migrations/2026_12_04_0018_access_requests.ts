import { sql, type Kysely } from "kysely";

/**
 * Just-in-time access (issue 16 §4).
 *
 * - `authz_relationships.expires_at`: a relationship that stops counting at that instant
 *   (schema.zed `with expiration`); reads of the record skip it once past, so the refill at
 *   start does not restore it. Indexed: consistency.ts asks for the next instant to come.
 * - `access_requests`: a user's request for a team role or an environment grant, for a while,
 *   and its decision. At most one PENDING request per requester, scope and role (the partial
 *   unique index: a duplicate is CONFLICT).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("authz_relationships").addColumn("expires_at", "timestamptz").execute();
  await sql`CREATE INDEX authz_relationships_expires_at ON authz_relationships (expires_at) WHERE expires_at IS NOT NULL`.execute(db);

  await db.schema
    .createTable("access_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    // Set for a grant on an environment (deleting the environment deletes its requests); null for a team role.
    .addColumn("environment_id", "text", (c) => c.references("environments.id").onDelete("cascade"))
    .addColumn("role", "text")
    .addColumn("requester_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("justification", "text", (c) => c.notNull())
    .addColumn("duration_minutes", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('PENDING', 'APPROVED', 'DENIED', 'EXPIRED')`))
    // A PENDING request nobody decides by then lapses (EXPIRED).
    .addColumn("decide_by", "timestamptz", (c) => c.notNull())
    // Approved: when the access ends.
    .addColumn("expires_at", "timestamptz")
    .addColumn("decided_by", "text")
    .addColumn("decided_at", "timestamptz")
    .addColumn("deny_reason", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE UNIQUE INDEX access_requests_one_pending ON access_requests (requester_id, team_id, COALESCE(environment_id, ''), COALESCE(role, '')) WHERE status = 'PENDING'`.execute(db);
  await db.schema.createIndex("access_requests_team").on("access_requests").columns(["team_id", "id"]).execute();
  await db.schema.createIndex("access_requests_requester").on("access_requests").columns(["requester_id", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("access_requests").execute();
  await sql`DROP INDEX authz_relationships_expires_at`.execute(db);
  await db.schema.alterTable("authz_relationships").dropColumn("expires_at").execute();
}
