import { sql } from "kysely";
import type { Db, OrgRole, Row, TeamRole, Tx } from "../../db/database.js";

export type SsoConnection = Row<"sso_connections">;
export type SsoGroupMapping = Row<"sso_group_mappings">;

export const findConnection = (db: Db | Tx, orgId: string) =>
  db.selectFrom("sso_connections").selectAll().where("org_id", "=", orgId).executeTakeFirst();

/** The connections of this issuer (normalised: sso-verify.ts normalizeIssuer) with one of these audiences (at most one per audience: unique, so at most as many as the audiences given). */
export const findConnectionsFor = (db: Db | Tx, normalizedIssuer: string, audiences: string[]) =>
  audiences.length === 0
    ? Promise.resolve([])
    : db.selectFrom("sso_connections").selectAll().where("issuer_normalized", "=", normalizedIssuer).where("audience", "in", audiences).execute();

/** Creates or replaces the organization's connection; its version moves, so cached keys of the old one are dropped. */
export const upsertConnection = (
  tx: Tx,
  values: { orgId: string; issuer: string; issuerNormalized: string; audience: string; jwksUrl: string | null; publicKeyPem: string | null; groupsClaim: string; updatedBy: string },
) => {
  const row = {
    issuer: values.issuer,
    issuer_normalized: values.issuerNormalized,
    audience: values.audience,
    jwks_url: values.jwksUrl,
    public_key_pem: values.publicKeyPem,
    groups_claim: values.groupsClaim,
    updated_by: values.updatedBy,
    updated_at: new Date(),
  };
  return tx
    .insertInto("sso_connections")
    .values({ org_id: values.orgId, ...row })
    .onConflict((oc) => oc.column("org_id").doUpdateSet({ ...row, version: sql<number>`sso_connections.version + 1` }))
    .returningAll()
    .executeTakeFirstOrThrow();
};

export const listMappings = (db: Db | Tx, orgId: string) =>
  db.selectFrom("sso_group_mappings").selectAll().where("org_id", "=", orgId).orderBy("group_name").execute();

export const findMapping = (db: Db | Tx, orgId: string, group: string) =>
  db.selectFrom("sso_group_mappings").selectAll().where("org_id", "=", orgId).where("group_name", "=", group).executeTakeFirst();

/** The organization's mappings of these groups. */
export const findMappingsOfGroups = (db: Db | Tx, orgId: string, groups: string[]) =>
  groups.length === 0
    ? Promise.resolve([])
    : db.selectFrom("sso_group_mappings").selectAll().where("org_id", "=", orgId).where("group_name", "in", groups).execute();

export async function countMappings(tx: Tx, orgId: string): Promise<number> {
  const row = await tx
    .selectFrom("sso_group_mappings")
    .select((eb) => eb.fn.countAll<string>().as("count"))
    .where("org_id", "=", orgId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export const upsertMapping = (
  tx: Tx,
  values: { orgId: string; group: string; orgRole: OrgRole | null; teams: { teamId: string; role: TeamRole }[]; setBy: string },
) => {
  const row = { org_role: values.orgRole, teams: JSON.stringify(values.teams), set_by: values.setBy, updated_at: new Date() };
  return tx
    .insertInto("sso_group_mappings")
    .values({ org_id: values.orgId, group_name: values.group, ...row })
    .onConflict((oc) => oc.columns(["org_id", "group_name"]).doUpdateSet(row))
    .returningAll()
    .executeTakeFirstOrThrow();
};

/** True when a mapping was deleted. */
export async function deleteMappingRow(tx: Tx, orgId: string, group: string): Promise<boolean> {
  const deleted = await tx.deleteFrom("sso_group_mappings").where("org_id", "=", orgId).where("group_name", "=", group).executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}
