import { ref } from "../../authz/model.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import { badInput, forbidden } from "../../errors.js";
import { getVisible } from "../../get-visible.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import type { Environment } from "../environment/environment.repository.js";
import { environmentByName, environmentRef } from "../environment/environment.service.js";
import { actorId } from "../../auth/caller.js";
import { getBrowsableTeam, lockTeamScopes, teamById, teamRef, teamsByIds, type Team } from "../team/team.service.js";
import { refuseStrandingKeys } from "../api-key/api-key.service.js";
import { writeInTeam } from "../team/write-in-team.js";
import { modelInTeam } from "./model.relationships.js";
import { deleteModelRow, findModel, findModelByName, insertDeployment, insertModel, teamsWithModelNamed, type Deployment, type Model } from "./model.repository.js";

export const modelRef = (id: string) => ref("model", id);

export const getModel = (ctx: AppContext, id: string): Promise<Model> => getVisible(ctx, "Model", modelRef(id), findModel);

const duplicateModel = (name: string) => `The team already has a model named "${name}"`;

export async function createModel(ctx: AppContext, teamId: string, name: string): Promise<Model> {
  const modelName = validName(name, "model name");
  return writeInTeam(
    ctx,
    teamId,
    "resources_write",
    async ({ tx, relate }) => {
      const model = await insertModel(tx, { teamId, name: modelName, createdBy: actorId(ctx) });
      await relate({ add: [modelInTeam(model.id, teamId)] });
      return model;
    },
    { onConflict: duplicateModel(modelName) },
  );
}

export interface DeployInput {
  modelName: string;
  teamId?: string | null;
  environment: string;
  config?: unknown;
}

/**
 * Deploys a new version of the named model into the named environment, creating the model
 * if its team has none of that name. Needs the right to edit the model (or to create one)
 * and to manage the environment: in a restricted environment only grantees and org ADMINs.
 */
export async function deployModel(ctx: AppContext, input: DeployInput): Promise<Deployment> {
  const modelName = validName(input.modelName, "model name");
  const environmentName = validName(input.environment, "environment name");
  const team = input.teamId ? await getBrowsableTeam(ctx, input.teamId) : await inferDeployTeam(ctx, modelName);
  const [environment, existing] = await Promise.all([
    environmentByName(ctx.db, team.id, environmentName),
    findModelByName(ctx.db, team.id, modelName),
  ]);
  const target = await requireDeploy(ctx, team, environment, existing, environmentName);
  return writeTransaction(
    ctx,
    async (tx) => {
      let model = existing ?? (await findModelByName(tx, team.id, modelName));
      if (!model) {
        model = await insertModel(tx, { teamId: team.id, name: modelName, createdBy: actorId(ctx) });
        await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { add: [modelInTeam(model.id, team.id)] });
      }
      return insertDeployment(tx, { modelId: model.id, environmentId: target.id, config: input.config, createdBy: actorId(ctx) });
    },
    { onConflict: "Another deployment of this model in this environment happened at the same moment; try again" },
  );
}

/** Stands in for an id that does not exist, so that every question takes the same path. */
const NONE = "none";

/**
 * The one deploy decision: deployModel, and promote, scale and remove (deployment.service.ts)
 * for their target environment. One bulk check decides, and the refusal tells only what the caller may know: a caller who
 * may not view the team (billing admins and chain guests browse it) learns no environment or
 * model name; a key learns nothing of models and environments outside its scope, which answer
 * as nonexistent ones.
 */
export async function requireDeploy(
  ctx: AppContext,
  team: Team,
  environment: Environment | undefined,
  existing: Model | undefined,
  environmentName: string,
): Promise<Environment> {
  const model = modelRef(existing?.id ?? NONE);
  const environmentObject = environmentRef(environment?.id ?? NONE);
  const [viewsTeam, viewsEnvironment, viewsModel, mayEdit, mayCreate, mayManage] = await Promise.all([
    ctx.authz.can(teamRef(team.id), "view"),
    ctx.authz.can(environmentObject, "view"),
    ctx.authz.can(model, "view"),
    ctx.authz.can(model, "edit"),
    ctx.authz.can(teamRef(team.id), "resources_write"),
    ctx.authz.can(environmentObject, "manage"),
  ]);
  const mayWrite = existing ? mayEdit : mayCreate;
  // Allowed only where the caller also sees what it deploys: a writer who may not view the team,
  // the environment or the model would otherwise change it and then be answered NOT_FOUND.
  if (environment && mayWrite && mayManage && viewsTeam && viewsEnvironment && (!existing || viewsModel)) return environment;
  if (!viewsTeam) throw forbidden("You are not allowed to deploy in this team");
  if (!environment || !viewsEnvironment) throw badInput(`The team has no environment named "${environmentName}"; team ADMINs create environments`);
  // An existing model the caller may not view (outside a key's scope) answers as a new name would.
  if (!mayWrite || (existing && !viewsModel)) throw forbidden("You are not allowed to deploy this model");
  throw forbidden("You are not allowed to manage deployments in this environment");
}

/**
 * Without a teamId: the only team where the caller can deploy; else the only such team that
 * already has a model of that name; else BAD_USER_INPUT naming the candidates.
 */
async function inferDeployTeam(ctx: AppContext, modelName: string): Promise<Team> {
  // Keys and service accounts belong to one team: that is the only candidate, and the
  // permission checks that follow decide the rest.
  if (ctx.principal && ctx.principal.kind !== "USER") return getBrowsableTeam(ctx, ctx.principal.teamId);
  const candidates = await ctx.authz.lookup("team", "resources_write");
  if (candidates.length === 1) return (await teamById(ctx.db, candidates[0]!))!;
  const withModel = await teamsWithModelNamed(ctx.db, candidates, modelName);
  if (withModel.length === 1) return (await teamById(ctx.db, withModel[0]!))!;
  if (candidates.length === 0) throw badInput("You cannot deploy in any team");
  // Names only of teams the caller may browse (a custom role can write without team:view).
  const named = await ctx.authz.filter(await teamsByIds(ctx.db, withModel.length > 1 ? withModel : candidates), (t) => teamRef(t.id), "browse");
  const choices = named.length > 0 ? `, one of: ${named.map((t) => `${t.name} (${t.id})`).join(", ")}` : "";
  throw badInput(`Several teams could hold "${modelName}"; pass teamId${choices}`);
}

/** Deletes the model, its deployments and every relationship that points at it. */
export async function deleteModel(ctx: AppContext, id: string): Promise<boolean> {
  const model = await getModel(ctx, id);
  await ctx.authz.require(modelRef(id), "delete");
  const team = (await teamById(ctx.db, model.team_id))!;
  await writeTransaction(ctx, async (tx) => {
    await lockTeamScopes(tx, team.id);
    const remove = await findRelationships(tx, { resource: modelRef(id) });
    await refuseStrandingKeys(tx, modelRef(id), remove);
    await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove });
    await deleteModelRow(tx, id);
  });
  return true;
}

/* Reads for other modules (no authorization: the caller has authorized what it reads them for). */

/** The model with this id, if any. */
export const modelById = findModel;
/** The team's model of this name, if any. */
export const modelByName = findModelByName;
