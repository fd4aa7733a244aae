import { ref } from "../../authz/model.js";
import { ENVIRONMENT_GRANT, requireHeld } from "../../authz/no-escalation.js";
import { describeAudit } from "../audit/audit.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import { conflict, notFound } from "../../errors.js";
import { expectId } from "../../ids.js";
import { getVisible } from "../../get-visible.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { resolveGrantee } from "../team/team-grantee.js";
import { lockTeamScopes, teamById, teamRef } from "../team/team.service.js";
import { refuseStrandingKeys } from "../api-key/api-key.service.js";
import { writeInTeam } from "../team/write-in-team.js";
import { environmentGrantee, environmentInTeam, unrestricted } from "./environment.relationships.js";
import {
  deleteEnvironmentRow,
  findEnvironment,
  findEnvironmentByName,
  insertEnvironment,
  listEnvironments,
  lockEnvironment,
  servesDeployments,
  setEnvironmentRestrictedRow,
  type Environment,
} from "./environment.repository.js";

export const environmentRef = (id: string) => ref("environment", id);

export const getEnvironment = (ctx: AppContext, id: string): Promise<Environment> =>
  getVisible(ctx, "Environment", environmentRef(id), findEnvironment);

/** Team ADMINs create environments; a team starts with none. */
export async function createEnvironment(ctx: AppContext, teamId: string, name: string, restricted: boolean): Promise<Environment> {
  const envName = validName(name, "environment name");
  return writeInTeam(
    ctx,
    teamId,
    "manage_environments",
    async ({ tx, relate }) => {
      const environment = await insertEnvironment(tx, { teamId, name: envName, restricted });
      await relate({ add: [environmentInTeam(environment.id, teamId), ...(restricted ? [] : unrestricted(environment.id))] });
      return environment;
    },
    { onConflict: `The team already has an environment named "${envName}"` },
  );
}

async function manageAccess(ctx: AppContext, id: string) {
  const environment = await getEnvironment(ctx, id);
  await ctx.authz.require(environmentRef(id), "manage_access");
  const team = (await teamById(ctx.db, environment.team_id))!;
  return { environment, team };
}

export async function setEnvironmentRestricted(ctx: AppContext, id: string, restricted: boolean): Promise<Environment> {
  const { environment: before, team } = await manageAccess(ctx, id);
  // Lifting the restriction lets every team writer deploy here: a grant to all of them at once.
  if (!restricted) await requireHeld(ctx.authz, environmentRef(id), ENVIRONMENT_GRANT, "lift this environment's restriction");
  describeAudit(ctx, { orgId: team.org_id, teamId: team.id, targetId: id, diff: { restricted: { before: before.restricted, after: restricted } } });
  return writeTransaction(ctx, async (tx) => {
    const environment = await setEnvironmentRestrictedRow(tx, id, restricted);
    await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, restricted ? { remove: unrestricted(id) } : { add: unrestricted(id) });
    return environment;
  });
}

/** Grantees: users, service accounts and FULL_ACCESS keys of the team. */
export async function grantEnvironmentAccess(ctx: AppContext, id: string, principalId: string): Promise<Environment> {
  const { environment, team } = await manageAccess(ctx, id);
  const principal = await resolveGrantee(ctx, team, principalId, { teamKeys: true });
  await requireHeld(ctx.authz, environmentRef(id), ENVIRONMENT_GRANT, "grant access to this environment");
  await writeTransaction(ctx, (tx) =>
    writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { add: [environmentGrantee(id, principal)] }),
  );
  return environment;
}

/** Acknowledged only once SpiceDB enforces it: the next request is already refused. */
export async function revokeEnvironmentAccess(ctx: AppContext, id: string, principalId: string): Promise<Environment> {
  const { environment, team } = await manageAccess(ctx, id);
  expectId(principalId, "User", "ServiceAccount", "ApiKey");
  const grants = await findRelationships(ctx.db, { resource: environmentRef(id), relations: ["grantee"] });
  const grant = grants.find((g) => g.subject.id === principalId);
  if (!grant) throw notFound("That principal has no access grant on this environment");
  await writeTransaction(ctx, (tx) => writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove: [grant] }));
  return environment;
}

/**
 * Team ADMINs (team#manage_environments) delete an environment that serves no deployment
 * (CONFLICT otherwise); its history goes with it, and every relationship on it (team,
 * restriction, grantees, keys' scopes) in the same transaction.
 */
export async function deleteEnvironment(ctx: AppContext, id: string): Promise<boolean> {
  const environment = await getEnvironment(ctx, id);
  await ctx.authz.require(teamRef(environment.team_id), "manage_environments");
  // Deleting a restricted environment lifts its restriction in effect (a new one of the same
  // name starts unrestricted): it needs what lifting it needs.
  if (environment.restricted) await requireHeld(ctx.authz, environmentRef(id), ENVIRONMENT_GRANT, "delete a restricted environment");
  const team = (await teamById(ctx.db, environment.team_id))!;
  describeAudit(ctx, { orgId: team.org_id, teamId: team.id, targetId: id, diff: { name: { before: environment.name, after: null } } });
  await writeTransaction(ctx, async (tx) => {
    await lockTeamScopes(tx, team.id);
    await lockEnvironment(tx, id);
    if (await servesDeployments(tx, id)) throw conflict("The environment still has active deployments: remove them first");
    const remove = await findRelationships(tx, { resource: environmentRef(id) });
    await refuseStrandingKeys(tx, environmentRef(id), remove);
    await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove });
    await deleteEnvironmentRow(tx, id);
  });
  return true;
}

/** The grantee ids of an environment, from the relationship record. */
export async function listGranteeIds(ctx: AppContext, id: string): Promise<string[]> {
  const grants = await findRelationships(ctx.db, { resource: environmentRef(id), relations: ["grantee"] });
  return grants.map((g) => g.subject.id).sort();
}

/* Reads for other modules (no authorization: the caller has authorized what it reads them for). */

/** The environment with this id, if any. */
export const environmentById = findEnvironment;
/** The team's environments, by name. */
export const environmentsOfTeam = listEnvironments;
/** The team's environment of this name, if any. */
export const environmentByName = findEnvironmentByName;
