import { ref } from "../../authz/model.js";
import { CUSTOM_ROLE_PERMISSIONS } from "../../authz/catalog.js";
import { customRoleGrants, requireHeld } from "../../authz/no-escalation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import { badInput, notFound } from "../../errors.js";
import { expectId } from "../../ids.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { getOrganization, orgRef } from "../organization/organization.service.js";
import { resolveGrantee } from "../team/team-grantee.js";
import { teamById } from "../team/team.service.js";
import { bindingId, roleBinding, rolePermissions } from "./role.relationships.js";
import {
  deleteAssignmentsInTeam,
  deleteAssignment,
  deleteAssignmentsInOrg,
  deleteRoleRow,
  findRole,
  insertAssignment,
  insertRole,
  listAssignments,
  listRoles,
  permissionsOfRoles,
  updateRolePermissions,
  type Role,
  type RoleAssignment,
} from "./role.repository.js";

export type { Role, RoleAssignment } from "./role.repository.js";
export { listAssignments, listRoles, permissionsOfRoles };

/** Names from the permission catalog's team permissions; BAD_USER_INPUT names the unknown ones. */
function validPermissions(permissions: string[]): string[] {
  const unknown = permissions.filter((name) => !CUSTOM_ROLE_PERMISSIONS.has(name));
  if (unknown.length > 0) throw badInput(`Not team permissions of the catalog: ${unknown.join(", ")}`);
  if (permissions.length === 0) throw badInput("A role needs at least one permission");
  return [...new Set(permissions)].sort();
}

/** The role, for those who manage its organization's roles; NOT_FOUND for everyone else, whether or not it exists. */
export async function getRole(ctx: AppContext, id: string): Promise<Role> {
  expectId(id, "Role");
  const role = await findRole(ctx.db, id);
  if (!role || !(await ctx.authz.can(orgRef(role.org_id), "roles_manage"))) throw notFound();
  return role;
}

export async function createRole(ctx: AppContext, orgId: string, name: string, permissions: string[]): Promise<Role> {
  expectId(orgId, "Organization");
  const roleName = validName(name, "role name");
  const granted = validPermissions(permissions);
  await getOrganization(ctx, orgId);
  await ctx.authz.require(orgRef(orgId), "roles_manage");
  return writeTransaction(
    ctx,
    async (tx) => {
      const role = await insertRole(tx, { orgId, name: roleName, permissions: granted });
      await writeRelationships(tx, { orgId }, { add: rolePermissions(role.id, orgId, granted) });
      return role;
    },
    { onConflict: `The organization already has a role named "${roleName}"` },
  );
}

/** Every assignment of the role changes with it, at once. */
export async function updateRole(ctx: AppContext, id: string, permissions: string[]): Promise<Role> {
  const role = await getRole(ctx, id);
  const granted = validPermissions(permissions);
  // The change reaches every assignment at once: the caller must hold it on each of their teams.
  const teams = [...new Set((await listAssignments(ctx.db, id)).map((a) => a.team_id))];
  await Promise.all(teams.map((teamId) => requireHeld(ctx.authz, ref("team", teamId), customRoleGrants(granted), `give the role "${role.name}" these permissions`)));
  describeAudit(ctx, { orgId: role.org_id, targetId: id, diff: { permissions: { before: role.permissions, after: granted } } });
  return writeTransaction(ctx, async (tx) => {
    const updated = await updateRolePermissions(tx, id, granted);
    await writeRelationships(tx, { orgId: role.org_id }, {
      remove: rolePermissions(id, role.org_id, role.permissions),
      add: rolePermissions(id, role.org_id, granted),
    });
    return updated;
  });
}

/** Deleting a role removes its assignments. */
export async function deleteRole(ctx: AppContext, id: string): Promise<boolean> {
  const role = await getRole(ctx, id);
  await writeTransaction(ctx, async (tx) => {
    const assignments = await listAssignments(tx, id);
    const bindings = [...new Set(assignments.map((a) => bindingId(id, a.team_id)))];
    const remove = [...(await findRelationships(tx, { orgId: role.org_id, resource: ref("role", id) }))];
    for (const binding of bindings) {
      remove.push(...(await findRelationships(tx, { orgId: role.org_id, resource: ref("role_binding", binding) })));
      remove.push(...(await findRelationships(tx, { orgId: role.org_id, subject: ref("role_binding", binding) })));
    }
    await writeRelationships(tx, { orgId: role.org_id }, { remove });
    await deleteRoleRow(tx, id);
  });
  return true;
}

export async function assignRole(ctx: AppContext, roleId: string, teamId: string, principalId: string): Promise<RoleAssignment> {
  const role = await getRole(ctx, roleId);
  expectId(teamId, "Team");
  const team = await teamById(ctx.db, teamId);
  if (!team || team.org_id !== role.org_id) throw badInput("The team must belong to the role's organization");
  const principal = await resolveGrantee(ctx, team, principalId);
  await requireHeld(ctx.authz, ref("team", teamId), customRoleGrants(role.permissions), `assign the role "${role.name}"`);
  return writeTransaction(
    ctx,
    async (tx) => {
      const assignment = await insertAssignment(tx, { roleId, teamId, principalId });
      await writeRelationships(tx, { orgId: team.org_id, teamId }, { add: roleBinding(roleId, teamId, principal) });
      return assignment;
    },
    { onConflict: "That principal already holds this role on this team" },
  );
}

/** The assignee loses the role's permissions on the team by the next request. */
export async function unassignRole(ctx: AppContext, roleId: string, teamId: string, principalId: string): Promise<boolean> {
  const role = await getRole(ctx, roleId);
  expectId(teamId, "Team");
  const type = expectId(principalId, "User", "ServiceAccount");
  await writeTransaction(ctx, async (tx) => {
    if (!(await deleteAssignment(tx, { roleId, teamId, principalId }))) throw notFound("That principal does not hold this role on this team");
    const assignee = ref(type === "User" ? "user" : "service_account", principalId);
    await writeRelationships(tx, { orgId: role.org_id, teamId }, { remove: [roleBinding(roleId, teamId, assignee)[2]!] });
  });
  return true;
}

/* Reads and writes for other modules (no authorization: the caller has authorized them). */

/** The role with this id, if any. */
export const roleById = findRole;
/** Removes every role assignment of the principal in the organization's teams, in the caller's transaction. */
export const removeRoleAssignmentsInOrg = deleteAssignmentsInOrg;
/** Removes the principal's custom-role assignments on the team (rows; the caller removes the relationships). */
export const removeRoleAssignmentsInTeam = deleteAssignmentsInTeam;
