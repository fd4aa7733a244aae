import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type Role = Row<"roles">;
export type RoleAssignment = Row<"role_assignments">;

export const findRole = (db: Db | Tx, id: string) => db.selectFrom("roles").selectAll().where("id", "=", id).executeTakeFirst();

export const listRoles = (db: Db, orgId: string) => db.selectFrom("roles").selectAll().where("org_id", "=", orgId).orderBy("name").execute();

/** The catalog permissions of these roles, together. */
export const permissionsOfRoles = async (db: Db, roleIds: string[]) =>
  roleIds.length === 0 ? [] : (await db.selectFrom("roles").select("permissions").where("id", "in", roleIds).execute()).flatMap((r) => r.permissions);

export const insertRole = (tx: Tx, values: { orgId: string; name: string; permissions: string[] }) =>
  tx
    .insertInto("roles")
    .values({ id: newId("Role"), org_id: values.orgId, name: values.name, permissions: JSON.stringify(values.permissions) })
    .returningAll()
    .executeTakeFirstOrThrow();

export const updateRolePermissions = (tx: Tx, id: string, permissions: string[]) =>
  tx.updateTable("roles").set({ permissions: JSON.stringify(permissions) }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();

/** Its assignments go with it (foreign keys cascade). */
export const deleteRoleRow = (tx: Tx, id: string) => tx.deleteFrom("roles").where("id", "=", id).execute();

/** The role's assignments, by team and principal. */
export const listAssignments = (db: Db | Tx, roleId: string) =>
  db.selectFrom("role_assignments").selectAll().where("role_id", "=", roleId).orderBy("team_id").orderBy("principal_id").execute();

export const insertAssignment = (tx: Tx, values: { roleId: string; teamId: string; principalId: string }) =>
  tx
    .insertInto("role_assignments")
    .values({ role_id: values.roleId, team_id: values.teamId, principal_id: values.principalId })
    .returningAll()
    .executeTakeFirstOrThrow();

/** False when the principal did not hold the role on the team. */
export async function deleteAssignment(tx: Tx, values: { roleId: string; teamId: string; principalId: string }): Promise<boolean> {
  const deleted = await tx
    .deleteFrom("role_assignments")
    .where("role_id", "=", values.roleId)
    .where("team_id", "=", values.teamId)
    .where("principal_id", "=", values.principalId)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}

/** Every assignment to the principal on the organization's teams. */
export const deleteAssignmentsInOrg = (tx: Tx, orgId: string, principalId: string) =>
  tx
    .deleteFrom("role_assignments")
    .where("principal_id", "=", principalId)
    .where("team_id", "in", (eb) => eb.selectFrom("teams").select("id").where("org_id", "=", orgId))
    .execute();

export const deleteAssignmentsInTeam = (tx: Tx, teamId: string, principalId: string) =>
  tx.deleteFrom("role_assignments").where("team_id", "=", teamId).where("principal_id", "=", principalId).execute();
