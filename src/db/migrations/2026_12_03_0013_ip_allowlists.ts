import { sql, type Kysely } from "kysely";

/**
 * IP allowlists (issue 14).
 *
 * - `authz_relationships` gains the relationship's caveat (`caveat_name`, `caveat_context`),
 *   which is not part of its key (as in SpiceDB: writing the key again replaces it).
 * - `ip_allowlists`: the CIDR list of an organization or a team (none: no restriction).
 * - spicedb/schema.zed now gates every way into an organization or a team with its
 *   `ip_allowed` wildcards (fail closed: without them nobody gets in). New organizations and
 *   teams write them; this writes them, uncaveated (no list yet), for the existing ones, into
 *   the durable record and the outbox, so that a remote SpiceDB receives them too (the server
 *   flushes the outbox at start, right after writing the schema).
 */
const SUBJECT_TYPES = ["user", "service_account", "api_key"];

const wildcards = (scope: "organization" | "team") =>
  SUBJECT_TYPES.map((subjectType) =>
    scope === "organization"
      ? sql`SELECT 'organization' AS resource_type, id AS resource_id, 'ip_allowed' AS relation, ${subjectType} AS subject_type, '*' AS subject_id, '' AS subject_relation, id AS org_id, NULL AS team_id FROM organizations`
      : sql`SELECT 'team' AS resource_type, id AS resource_id, 'ip_allowed' AS relation, ${subjectType} AS subject_type, '*' AS subject_id, '' AS subject_relation, org_id, id AS team_id FROM teams`,
  );

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("authz_relationships").addColumn("caveat_name", "text").execute();
  await db.schema.alterTable("authz_relationships").addColumn("caveat_context", "jsonb").execute();

  await db.schema
    .createTable("ip_allowlists")
    // An organization id or a team id.
    .addColumn("scope_id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("team_id", "text", (c) => c.references("teams.id").onDelete("cascade"))
    // Canonical CIDRs, deduplicated, in the order given; never empty (an empty list is no row).
    .addColumn("cidrs", "jsonb", (c) => c.notNull())
    .addColumn("updated_by", "text")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  for (const rows of [...wildcards("organization"), ...wildcards("team")]) {
    await sql`INSERT INTO authz_relationships (resource_type, resource_id, relation, subject_type, subject_id, subject_relation, org_id, team_id)
      ${rows} ON CONFLICT DO NOTHING`.execute(db);
    await sql`INSERT INTO authz_outbox (resource_type, resource_id, relation, subject_type, subject_id, subject_relation)
      SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation FROM (${rows}) AS backfill`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  // Queued before the rows go: the outbox applier deletes from SpiceDB what the record no longer holds.
  const added = sql`relation = 'ip_allowed' AND resource_type IN ('organization', 'team')`;
  await sql`INSERT INTO authz_outbox (resource_type, resource_id, relation, subject_type, subject_id, subject_relation)
    SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation FROM authz_relationships WHERE ${added}`.execute(db);
  await sql`DELETE FROM authz_relationships WHERE ${added}`.execute(db);
  await db.schema.dropTable("ip_allowlists").execute();
  await db.schema.alterTable("authz_relationships").dropColumn("caveat_context").execute();
  await db.schema.alterTable("authz_relationships").dropColumn("caveat_name").execute();
}
