import { sql } from "kysely";
import type { Db, Tx } from "../../db/database.js";

/** The CIDR list of an organization or a team; empty when it has none (no restriction). */
export async function findIpAllowlist(db: Db | Tx, scopeId: string): Promise<string[]> {
  const row = await db.selectFrom("ip_allowlists").select("cidrs").where("scope_id", "=", scopeId).executeTakeFirst();
  return row?.cidrs ?? [];
}

/** Replaces the list (an empty one removes the row). */
export async function saveIpAllowlist(tx: Tx, scope: { id: string; orgId: string; teamId: string | null }, cidrs: string[], updatedBy: string | null): Promise<void> {
  if (cidrs.length === 0) {
    await tx.deleteFrom("ip_allowlists").where("scope_id", "=", scope.id).execute();
    return;
  }
  const row = { scope_id: scope.id, org_id: scope.orgId, team_id: scope.teamId, cidrs: JSON.stringify(cidrs), updated_by: updatedBy, updated_at: new Date() };
  await tx
    .insertInto("ip_allowlists")
    .values(row)
    .onConflict((oc) => oc.column("scope_id").doUpdateSet({ cidrs: row.cidrs, updated_by: updatedBy, updated_at: row.updated_at }))
    .execute();
}

/**
 * Records (and queues for SpiceDB) the uncaveated `ip_allowed` wildcards of every organization
 * and team that has none: the migration's backfill, repeated at every start for organizations
 * and teams a previous version's process created during a rolling deploy (which wrote none,
 * so that nobody could enter them). A key already recorded keeps its caveat; a missing key of a
 * scope that has a list gets that list's caveat (ip-allowed.ts), never an open wildcard.
 * Returns how many it added.
 */
export async function insertMissingIpAllowed(db: Db): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const added = await sql<{ resource_type: string; resource_id: string; relation: string; subject_type: string; subject_id: string; subject_relation: string }>`
      INSERT INTO authz_relationships (resource_type, resource_id, relation, subject_type, subject_id, subject_relation, org_id, team_id, caveat_name, caveat_context)
      SELECT 'organization', o.id, 'ip_allowed', s.type, '*', '', o.id, NULL, ${CAVEAT_NAME}, ${CAVEAT_CONTEXT}
        FROM organizations o CROSS JOIN ${PRINCIPALS} AS s(type) LEFT JOIN ip_allowlists a ON a.scope_id = o.id
      UNION ALL
      SELECT 'team', t.id, 'ip_allowed', s.type, '*', '', t.org_id, t.id, ${CAVEAT_NAME}, ${CAVEAT_CONTEXT}
        FROM teams t CROSS JOIN ${PRINCIPALS} AS s(type) LEFT JOIN ip_allowlists a ON a.scope_id = t.id
      ON CONFLICT DO NOTHING
      RETURNING resource_type, resource_id, relation, subject_type, subject_id, subject_relation`.execute(tx);
    if (added.rows.length > 0) await tx.insertInto("authz_outbox").values(added.rows).execute();
    return added.rows.length;
  });
}

const PRINCIPALS = sql`(VALUES ('user'), ('service_account'), ('api_key'))`;
// The caveat ipAllowedWildcards writes (authz/ip-allowed.ts), from the scope's stored list, if any.
const CAVEAT_NAME = sql`CASE WHEN a.scope_id IS NULL THEN NULL ELSE 'ip_allowlist' END`;
const CAVEAT_CONTEXT = sql`CASE WHEN a.scope_id IS NULL THEN NULL ELSE jsonb_build_object('cidrs', a.cidrs) END`;
