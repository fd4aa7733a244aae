import { ref, type ObjectRef } from "../../authz/model.js";
import { customRoleGrants, ENVIRONMENT_GRANT, requireHeld, TEAM_ROLE_GRANTS } from "../../authz/no-escalation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { TeamRole, Tx } from "../../db/database.js";
import { notFound } from "../../errors.js";
import { expectId } from "../../ids.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { keyIdsOfServiceAccount } from "../api-key/api-key.service.js";
import { permissionsOfRoles, removeRoleAssignmentsInTeam } from "../role/role.service.js";
import { getServiceAccount, removeServiceAccountRow } from "../service-account/service-account.service.js";
import { resolveGrantee } from "./team-grantee.js";
import { teamRole } from "./team.relationships.js";
import { deleteTeamMembership, findTeamMembership, updateTeamMembershipRole, type TeamMembership } from "./team.repository.js";
import { getBrowsableTeam, joinTeam, teamById, teamRef, type Team } from "./team.service.js";

export async function addTeamMember(ctx: AppContext, teamId: string, principalId: string, role: TeamRole): Promise<TeamMembership> {
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "manage_members");
  const principal = await resolveGrantee(ctx, team, principalId);
  await requireHeld(ctx.authz, teamRef(teamId), TEAM_ROLE_GRANTS[role], `grant the ${role} role`);
  describeAudit(ctx, { orgId: team.org_id, teamId, targetId: principalId, diff: { role: { before: null, after: role } } });
  return writeTransaction(
    ctx,
    async (tx) => {
      return joinTeam(tx, team, principal, role);
    },
    { onConflict: "That principal is already a member of this team" },
  );
}

async function existingMembership(ctx: AppContext, teamId: string, principalId: string): Promise<TeamMembership> {
  expectId(principalId, "User", "ServiceAccount");
  const membership = await findTeamMembership(ctx.db, teamId, principalId);
  if (!membership) throw notFound("That principal is not a member of this team");
  return membership;
}

export async function setTeamRole(ctx: AppContext, teamId: string, principalId: string, role: TeamRole): Promise<TeamMembership> {
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "manage_members");
  const current = await existingMembership(ctx, teamId, principalId);
  const principal = ref(current.principal_type, principalId);
  // Both sides: no granting what one lacks, and no demoting someone who holds more.
  await requireHeld(ctx.authz, teamRef(teamId), [...TEAM_ROLE_GRANTS[role], ...TEAM_ROLE_GRANTS[current.role]], `change a ${current.role} to ${role}`);
  describeAudit(ctx, { orgId: team.org_id, teamId, targetId: principalId, diff: { role: { before: current.role, after: role } } });
  return writeTransaction(ctx, async (tx) => {
    const membership = await updateTeamMembershipRole(tx, teamId, principalId, role);
    await writeRelationships(
      tx,
      { orgId: team.org_id, teamId },
      { remove: [teamRole(teamId, principal, current.role)], add: [teamRole(teamId, principal, role)] },
    );
    return membership;
  });
}

/**
 * Taking away is granting in reverse: removing a member takes its role, any temporary role
 * (access requests), its custom roles on the team and its environment grants, so the remover
 * must hold what each of them confers.
 * (What the member holds otherwise — an org ADMIN's implicit powers — is not taken away.)
 */
async function requireCanTakeAway(ctx: AppContext, teamId: string, principal: ObjectRef, role: TeamRole): Promise<void> {
  const held = await findRelationships(ctx.db, { teamId, subject: principal });
  const roleIds = held.filter((r) => r.resource.type === "role_binding").map((r) => r.resource.id.split("|")[0]!);
  const customRoles = await permissionsOfRoles(ctx.db, roleIds);
  const granted = held.filter((r) => r.resource.type === "environment" && r.relation === "grantee").map((r) => r.resource);
  // Team roles beside the membership's: a temporary one from an approved access request.
  const temporary = held.filter((r) => r.resource.type === "team" && r.expiresAt).map((r) => TEAM_ROLE_GRANTS[r.relation.toUpperCase() as TeamRole] ?? []);
  await Promise.all([
    requireHeld(ctx.authz, teamRef(teamId), [...TEAM_ROLE_GRANTS[role], ...temporary.flat(), ...customRoleGrants(customRoles)], `remove this ${role}`),
    ...granted.map((environment) => requireHeld(ctx.authz, environment, ENVIRONMENT_GRANT, `remove this ${role}`)),
  ]);
}

/**
 * Removes the principal's role and every grant it holds in the team; the rest stays intact.
 * A service account belongs to this one team, so removing it deletes it with its keys.
 */
export async function removeTeamMember(ctx: AppContext, teamId: string, principalId: string): Promise<boolean> {
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "manage_members");
  await takeOutOfTeam(ctx, team, await existingMembership(ctx, teamId, principalId));
  return true;
}

/**
 * Deletes a service account: what removeTeamMember does to it (it leaves its one team, its
 * keys and every relationship of it and of them go in one transaction, so its keys fail from
 * the next request on), gated as createServiceAccount is (team#manage_keys) plus the
 * no-escalation rule of removal. NOT_FOUND for whoever cannot view the account.
 */
export async function deleteServiceAccount(ctx: AppContext, id: string): Promise<boolean> {
  const account = await getServiceAccount(ctx, id);
  const team = (await teamById(ctx.db, account.team_id))!;
  await ctx.authz.require(teamRef(team.id), "manage_keys");
  await takeOutOfTeam(ctx, team, await existingMembership(ctx, team.id, id));
  return true;
}

async function takeOutOfTeam(ctx: AppContext, team: Team, current: TeamMembership): Promise<void> {
  const { team_id: teamId, principal_id: principalId } = current;
  const principal = ref(current.principal_type, principalId);
  await requireCanTakeAway(ctx, teamId, principal, current.role);
  describeAudit(ctx, { orgId: team.org_id, teamId, targetId: principalId, diff: { role: { before: current.role, after: null } } });
  await writeTransaction(ctx, (tx) => leaveTeamIn(tx, team, principal));
}

/**
 * The principal leaves the team, in the caller's transaction (authorized): its membership, its
 * custom roles there and every relationship of it in the team; a service account is deleted
 * with its keys. removeTeamMember and the SSO sign-in's reconciliation go through here.
 */
export async function leaveTeamIn(tx: Tx, team: Pick<Team, "id" | "org_id">, principal: ObjectRef): Promise<void> {
  const { id: teamId } = team;
  await deleteTeamMembership(tx, teamId, principal.id);
  await removeRoleAssignmentsInTeam(tx, teamId, principal.id);
  const remove = await findRelationships(tx, { teamId, subject: principal });
  if (principal.type === "service_account") {
    const keyIds = await keyIdsOfServiceAccount(tx, principal.id);
    remove.push(...(await findRelationships(tx, { teamId, resource: principal })));
    for (const keyId of keyIds) remove.push(...(await findRelationships(tx, { teamId, resource: ref("api_key", keyId) })));
    await removeServiceAccountRow(tx, principal.id);
  }
  await writeRelationships(tx, { orgId: team.org_id, teamId }, { remove });
}

/** An SSO reconciliation's role change of a team membership it manages (stays SSO-managed), in the caller's transaction. */
export async function changeTeamRoleIn(tx: Tx, team: Pick<Team, "id" | "org_id">, principal: ObjectRef, from: TeamRole, to: TeamRole): Promise<void> {
  await updateTeamMembershipRole(tx, team.id, principal.id, to, true);
  await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove: [teamRole(team.id, principal, from)], add: [teamRole(team.id, principal, to)] });
}
