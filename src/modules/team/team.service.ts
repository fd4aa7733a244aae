import { ref, type ObjectRef } from "../../authz/model.js";
import { describeAudit } from "../audit/audit.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { TeamRole, Tx } from "../../db/database.js";
import { conflict } from "../../errors.js";
import { getVisible } from "../../get-visible.js";
import { expectId } from "../../ids.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { orgRef } from "../organization/organization.service.js";
import { defaultTeamOf as defaultTeamOf_, orgHasTeam, teamAdmitsEveryAddress, teamInOrg, teamRole } from "./team.relationships.js";
import {
  deleteMembershipsInOrg,
  findDefaultTeam,
  findTeam,
  findTeamIdsInOrg,
  findTeamMembership,
  findTeams,
  insertTeam,
  deleteTeamRow,
  insertTeamMembership,
  lockTeamRow,
  listCandidateTeams,
  listMembershipsInOrg,
  renameTeamRow,
  type Team,
  type TeamMembership,
} from "./team.repository.js";

export type { Team, TeamMembership } from "./team.repository.js";

export const teamRef = (id: string) => ref("team", id);

/**
 * The team if the caller may reach it (`browse`: its viewers, and users one of its chains is
 * shared with); NOT_FOUND otherwise, whether or not it exists.
 */
export const getBrowsableTeam = (ctx: AppContext, id: string): Promise<Team> => getVisible(ctx, "Team", teamRef(id), findTeam, "browse");

export async function createTeam(ctx: AppContext, orgId: string, name: string): Promise<Team> {
  expectId(orgId, "Organization");
  const teamName = validName(name, "team name");
  await ctx.authz.require(orgRef(orgId), "manage_teams");
  return writeTransaction(
    ctx,
    async (tx) => {
      const team = await insertTeam(tx, { orgId, name: teamName, isDefault: false });
      await writeRelationships(tx, { orgId, teamId: team.id }, { add: [teamInOrg(team.id, orgId), orgHasTeam(orgId, team.id), ...teamAdmitsEveryAddress(team.id)] });
      return team;
    },
    { onConflict: `A team named "${teamName}" already exists in this organization` },
  );
}

/** Team ADMINs (and so org ADMINs) rename a team, the default team included. */
export async function renameTeam(ctx: AppContext, id: string, name: string): Promise<Team> {
  const teamName = validName(name, "team name");
  const before = await getBrowsableTeam(ctx, id);
  await ctx.authz.require(teamRef(id), "manage");
  describeAudit(ctx, { orgId: before.org_id, teamId: id, targetId: id, diff: { name: { before: before.name, after: teamName } } });
  return writeTransaction(
    ctx,
    (tx) => renameTeamRow(tx, id, teamName),
    { onConflict: `A team named "${teamName}" already exists in this organization` },
  );
}

/** Org ADMINs delete teams, with everything in them; never the default team. */
export async function deleteTeam(ctx: AppContext, id: string): Promise<boolean> {
  const team = await getBrowsableTeam(ctx, id);
  await ctx.authz.require(orgRef(team.org_id), "manage_teams");
  if (team.is_default) throw conflict("The default team cannot be deleted");
  await writeTransaction(ctx, async (tx) => {
    const remove = await findRelationships(tx, { teamId: id });
    await writeRelationships(tx, { orgId: team.org_id, teamId: id }, { remove });
    // Resources, memberships and keys of the team go with it (foreign keys cascade).
    await deleteTeamRow(tx, id);
  });
  return true;
}

/*
 * Reads for other modules. They do not authorize: the caller has already authorized the
 * object it reads the team for (a model's team, say), or filters what it gets through SpiceDB.
 * Other modules reach the team tables only through these and the loaders (ctx.loaders.team).
 */

/** The team with this id, if any. */
export const teamById = findTeam;
/** The teams among `ids`, by organization and name. */
export const teamsByIds = findTeams;
/** The organization's default team (every organization has one). */
export const defaultTeamOf = findDefaultTeam;
/** Which of `ids` are teams of the organization. */
export const teamIdsInOrg = findTeamIdsInOrg;
/** The principal's membership of the team, if any. */
export const teamMembershipOf = findTeamMembership;
/** A principal's memberships in the teams of one organization. */
export const membershipsInOrg = listMembershipsInOrg;
/** The teams a principal could possibly view (SpiceDB decides which it may). */
export const candidateTeams = listCandidateTeams;

/**
 * Which of the organization's teams the caller lists: every one for holders of
 * org:view_all_teams (paged straight from Postgres, no lookup across SpiceDB), else the ids
 * SpiceDB says it views.
 */
export async function listableTeams(ctx: AppContext, orgId: string): Promise<string[] | "all"> {
  return (await ctx.authz.can(orgRef(orgId), "view_all_teams")) ? "all" : ctx.authz.lookup("team", "view");
}

/**
 * Creates an organization's default team, with its first ADMIN, inside the organization's
 * creating transaction.
 */
export async function createDefaultTeam(tx: Tx, orgId: string, name: string, adminUserId: string): Promise<Team> {
  const team = await insertTeam(tx, { orgId, name, isDefault: true });
  await writeRelationships(tx, { orgId, teamId: team.id }, { add: [teamInOrg(team.id, orgId), orgHasTeam(orgId, team.id), defaultTeamOf_(team.id, orgId), ...teamAdmitsEveryAddress(team.id)] });
  await joinTeam(tx, team, ref("user", adminUserId), "ADMIN");
  return team;
}

/**
 * Makes `principal` a member of `team` with `role`, in the caller's transaction: the
 * membership row and its relationship, owned by the team. Every way into a team (adding a
 * member, accepting an invitation, creating a service account or an organization) goes
 * through here; the caller has authorized it.
 */
export async function joinTeam(tx: Tx, team: Pick<Team, "id" | "org_id">, principal: ObjectRef, role: TeamRole, options: { ssoManaged?: boolean } = {}): Promise<TeamMembership> {
  const membership = await insertTeamMembership(tx, {
    teamId: team.id,
    principalId: principal.id,
    principalType: principal.type as TeamMembership["principal_type"],
    role,
    ssoManaged: options.ssoManaged ?? false,
  });
  await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { add: [teamRole(team.id, principal, role)] });
  return membership;
}

/** The principal leaves every team of the organization (its membership rows; the caller removes the relationships). */
export async function leaveTeamsOf(tx: Tx, orgId: string, principalId: string): Promise<void> {
  await deleteMembershipsInOrg(tx, orgId, principalId);
}

/**
 * Serializes, per team, the changes that can change what a team key's scope means: creating a
 * scoped key, deleting an environment or a model. Each takes this lock before it reads scopes.
 */
export const lockTeamScopes = lockTeamRow;
