import { sql, type Kysely } from "kysely";

/**
 * spicedb/schema.zed gained `organization#team` (whoever views a team browses its
 * organization) and `team#default_of` (whoever browses an organization browses its default
 * team). New organizations and teams write them; this writes them for the existing ones, into
 * the durable record and the outbox (so a remote SpiceDB receives them too), the way
 * src/authz/relationship-writes.ts records every relationship.
 */
const BACKFILL = [
  sql`SELECT 'organization' AS resource_type, org_id AS resource_id, 'team' AS relation, 'team' AS subject_type, id AS subject_id, '' AS subject_relation, org_id, id AS team_id FROM teams`,
  sql`SELECT 'team' AS resource_type, id AS resource_id, 'default_of' AS relation, 'organization' AS subject_type, org_id AS subject_id, '' AS subject_relation, org_id, id AS team_id FROM teams WHERE is_default`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const rows of BACKFILL) {
    await sql`INSERT INTO authz_relationships (resource_type, resource_id, relation, subject_type, subject_id, subject_relation, org_id, team_id)
      ${rows} ON CONFLICT DO NOTHING`.execute(db);
    await sql`INSERT INTO authz_outbox (resource_type, resource_id, relation, subject_type, subject_id, subject_relation)
      SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation FROM (${rows}) AS backfill`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  // Queued before the rows go: the outbox applier deletes from SpiceDB what the record no longer holds.
  const backfilled = sql`(resource_type = 'organization' AND relation = 'team') OR (resource_type = 'team' AND relation = 'default_of')`;
  await sql`INSERT INTO authz_outbox (resource_type, resource_id, relation, subject_type, subject_id, subject_relation)
    SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation FROM authz_relationships WHERE ${backfilled}`.execute(db);
  await sql`DELETE FROM authz_relationships WHERE ${backfilled}`.execute(db);
}
