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
