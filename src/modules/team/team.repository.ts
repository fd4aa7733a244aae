import type { Db, Row, TeamRole, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type Team = Row<"teams">;
export type TeamMembership = Row<"team_memberships">;

export const findTeam = (db: Db | Tx, id: string) => db.selectFrom("teams").selectAll().where("id", "=", id).executeTakeFirst();

export const findTeams = (db: Db | Tx, ids: string[]) =>
  ids.length === 0
    ? Promise.resolve([])
    : db.selectFrom("teams").selectAll().where("id", "in", ids).orderBy("org_id").orderBy("name").execute();

export const findDefaultTeam = (db: Db | Tx, orgId: string) =>
  db.selectFrom("teams").selectAll().where("org_id", "=", orgId).where("is_default", "=", true).executeTakeFirstOrThrow();

/** Teams of the organization (all of them, or those among `visibleIds`), in id order, after `after`. */
export function listTeamsPage(db: Db, orgId: string, visibleIds: string[] | "all", options: { after?: string; limit: number }) {
  if (visibleIds !== "all" && visibleIds.length === 0) return Promise.resolve([]);
  let query = db.selectFrom("teams").selectAll().where("org_id", "=", orgId);
  if (visibleIds !== "all") query = query.where("id", "in", visibleIds);
  if (options.after) query = query.where("id", ">", options.after);
  return query.orderBy("id").limit(options.limit).execute();
}

export const insertTeam = (tx: Tx, values: { orgId: string; name: string; isDefault: boolean }) =>
  tx
    .insertInto("teams")
    .values({ id: newId("Team"), org_id: values.orgId, name: values.name, is_default: values.isDefault })
    .returningAll()
    .executeTakeFirstOrThrow();

export const findTeamMembership = (db: Db | Tx, teamId: string, principalId: string) =>
  db
    .selectFrom("team_memberships")
    .selectAll()
    .where("team_id", "=", teamId)
    .where("principal_id", "=", principalId)
    .executeTakeFirst();

export function listTeamMembershipsPage(db: Db, teamId: string, options: { after?: string; limit: number }) {
  let query = db.selectFrom("team_memberships").selectAll().where("team_id", "=", teamId);
  if (options.after) query = query.where("principal_id", ">", options.after);
  return query.orderBy("principal_id").limit(options.limit).execute();
}

/** A principal's memberships in the teams of one organization. */
export const listMembershipsInOrg = (db: Db | Tx, orgId: string, principalId: string) =>
  db
    .selectFrom("team_memberships")
    .innerJoin("teams", "teams.id", "team_memberships.team_id")
    .selectAll("team_memberships")
    .where("teams.org_id", "=", orgId)
    .where("team_memberships.principal_id", "=", principalId)
    .orderBy("teams.name")
    .execute();

export const insertTeamMembership = (
  tx: Tx,
  values: { teamId: string; principalId: string; principalType: TeamMembership["principal_type"]; role: TeamRole; ssoManaged?: boolean },
) =>
  tx
    .insertInto("team_memberships")
    .values({ team_id: values.teamId, principal_id: values.principalId, principal_type: values.principalType, role: values.role, sso_managed: values.ssoManaged ?? false })
    .returningAll()
    .executeTakeFirstOrThrow();

/**
 * The teams a principal could possibly view: every team of the user's organizations, or a
 * key's or service account's own team. SpiceDB then decides which of them it may view.
 */
export function listCandidateTeams(db: Db, principal: { kind: string; id: string; teamId?: string }) {
  let query = db.selectFrom("teams").selectAll();
  query =
    principal.kind === "USER"
      ? query.where("org_id", "in", (eb) => eb.selectFrom("org_memberships").select("org_id").where("user_id", "=", principal.id))
      : query.where("id", "=", principal.teamId ?? "");
  return query.orderBy("org_id").orderBy("name").execute();
}

/** Which of `ids` are teams of the organization. */
export const findTeamIdsInOrg = async (db: Db | Tx, orgId: string, ids: string[]) =>
  ids.length === 0 ? [] : (await db.selectFrom("teams").select("id").where("org_id", "=", orgId).where("id", "in", ids).execute()).map((t) => t.id);

export const renameTeamRow = (tx: Tx, id: string, name: string) =>
  tx.updateTable("teams").set({ name }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();

/** Deletes the team row; the foreign keys cascade to everything in the team. */
export async function deleteTeamRow(tx: Tx, id: string): Promise<void> {
  await tx.deleteFrom("teams").where("id", "=", id).execute();
}

/** As updateOrgMembershipRole: a change by hand (the default) makes the membership by hand. */
export const updateTeamMembershipRole = (tx: Tx, teamId: string, principalId: string, role: TeamRole, ssoManaged = false) =>
  tx
    .updateTable("team_memberships")
    .set({ role, sso_managed: ssoManaged })
    .where("team_id", "=", teamId)
    .where("principal_id", "=", principalId)
    .returningAll()
    .executeTakeFirstOrThrow();

export async function deleteTeamMembership(tx: Tx, teamId: string, principalId: string): Promise<void> {
  await tx.deleteFrom("team_memberships").where("team_id", "=", teamId).where("principal_id", "=", principalId).execute();
}

/** Removes the principal's memberships of every team of the organization. */
export const deleteMembershipsInOrg = (tx: Tx, orgId: string, principalId: string) =>
  tx
    .deleteFrom("team_memberships")
    .where("principal_id", "=", principalId)
    .where("team_id", "in", (eb) => eb.selectFrom("teams").select("id").where("org_id", "=", orgId))
    .execute();

/** Locks the team's row until the transaction ends (serializes changes to its keys' scopes). */
export async function lockTeamRow(tx: Tx, teamId: string): Promise<void> {
  await tx.selectFrom("teams").select("id").where("id", "=", teamId).forUpdate().execute();
}

/** Sets the team's limits (each `undefined` one unchanged) and moves their version. */
export const updateTeamLimitsRow = (tx: Tx, id: string, limits: { requests_per_minute?: number | null; monthly_invocations?: number | null }) =>
  tx
    .updateTable("teams")
    .set((eb) => ({ ...limits, limits_version: eb("limits_version", "+", 1) }))
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
