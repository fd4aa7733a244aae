import { actorId } from "../../auth/caller.js";
import type { AppContext } from "../../context.js";
import { badInput, conflict, notFound } from "../../errors.js";
import { expectId } from "../../ids.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { environmentById, environmentByName, environmentRef, environmentsOfTeam } from "../environment/environment.service.js";
import { teamById } from "../team/team.service.js";
import {
  deactivateDeployment,
  findDeployment,
  findModel,
  insertDeployment,
  listDeploymentHistory,
  supersedeDeployment,
  type Deployment,
  type Model,
} from "./model.repository.js";
import { modelRef, requireDeploy } from "./model.service.js";

/** A deployment config is a JSON object of at most this many bytes (its JSON text). */
export const MAX_CONFIG_BYTES = 64 * 1024;
/** Model.deploymentHistory answers at most this many versions. */
export const HISTORY_LIMIT = 100;

/**
 * The deployment if the caller may view both its model and its environment (a key outside
 * either scope sees neither); NOT_FOUND, as for a nonexistent id, otherwise.
 */
export async function getDeployment(ctx: AppContext, id: string): Promise<Deployment> {
  expectId(id, "Deployment");
  const deployment = await findDeployment(ctx.db, id);
  if (!deployment) throw notFound("deployment not found");
  await Promise.all([ctx.authz.requireVisible(modelRef(deployment.model_id)), ctx.authz.requireVisible(environmentRef(deployment.environment_id))]);
  return deployment;
}

/** The visible deployment, its model and team, once the caller may deploy it into `environmentName` of that team. */
async function authorizeDeploy(ctx: AppContext, id: string, environmentName?: string) {
  const deployment = await getDeployment(ctx, id);
  const model = (await findModel(ctx.db, deployment.model_id))!;
  const team = (await teamById(ctx.db, model.team_id))!;
  // Promotion resolves the name in the deployment's own team only: another team's
  // environment of that name is as absent as a name no team has.
  const environment =
    environmentName === undefined ? await environmentById(ctx.db, deployment.environment_id) : await environmentByName(ctx.db, team.id, environmentName);
  const target = await requireDeploy(ctx, team, environment, model, environment?.name ?? environmentName ?? "");
  return { deployment, model, team, target };
}

/**
 * The deployment's model and config become the active deployment of the team's environment
 * named `environmentName`, as a new version there. Decided as deployModel is (requireDeploy):
 * model edit and environment manage on the target, so a restricted target needs a grant or
 * an org ADMIN. Any visible version may be promoted, into its own environment too (a rollback).
 */
export async function promoteDeployment(ctx: AppContext, id: string, environmentName: string): Promise<Deployment> {
  const name = validName(environmentName, "environment name");
  const { deployment, team, target } = await authorizeDeploy(ctx, id, name);
  describeAudit(ctx, {
    orgId: team.org_id,
    teamId: team.id,
    targetId: id,
    diff: { promotedFrom: { deployment: id, environment: deployment.environment_id, version: deployment.version }, environment: target.id },
  });
  return writeTransaction(
    ctx,
    (tx) => insertDeployment(tx, { modelId: deployment.model_id, environmentId: target.id, config: deployment.config, createdBy: actorId(ctx) }),
    { onConflict: "Another deployment of this model in this environment happened at the same moment; try again" },
  );
}

const notActive = (what: string) => conflict(`Only the active deployment can be ${what}`);

/** A new version of the active deployment with `config` (replicas, autoscaling); same model and environment. */
export async function scaleDeployment(ctx: AppContext, id: string, config: unknown): Promise<Deployment> {
  const validConfig = validDeploymentConfig(config);
  const { deployment, team } = await authorizeDeploy(ctx, id);
  if (!deployment.active) throw notActive("scaled");
  describeAudit(ctx, { orgId: team.org_id, teamId: team.id, targetId: id, diff: { config: { before: deployment.config ?? null, after: validConfig } } });
  return writeTransaction(
    ctx,
    async (tx) => {
      const scaled = await supersedeDeployment(tx, id, validConfig, actorId(ctx));
      if (!scaled) throw notActive("scaled");
      return scaled;
    },
    { onConflict: "Another deployment of this model in this environment happened at the same moment; try again" },
  );
}

/**
 * Afterwards the model has no active deployment in that environment; every version stays as
 * history. Only the active deployment can be removed (CONFLICT otherwise): removing an older
 * version would answer true while a newer one still serves.
 */
export async function removeDeployment(ctx: AppContext, id: string): Promise<boolean> {
  const { deployment, team } = await authorizeDeploy(ctx, id);
  if (!deployment.active) throw notActive("removed");
  describeAudit(ctx, { orgId: team.org_id, teamId: team.id, targetId: id, diff: { active: { before: true, after: false } } });
  await writeTransaction(ctx, async (tx) => {
    if (!(await deactivateDeployment(tx, id))) throw notActive("removed");
  });
  return true;
}

/**
 * The model's versions, newest first, at most HISTORY_LIMIT, in the environments the caller
 * may view (one bulk check); `environmentName` narrows to one (an unknown or invisible name: none).
 */
export async function deploymentHistory(ctx: AppContext, model: Model, environmentName?: string | null): Promise<Deployment[]> {
  const environments = (await environmentsOfTeam(ctx.db, model.team_id)).filter((e) => environmentName == null || e.name === environmentName);
  const visible = await ctx.authz.filter(environments, (e) => environmentRef(e.id), "view");
  return listDeploymentHistory(ctx.db, model.id, visible.map((e) => e.id), HISTORY_LIMIT);
}

/** A config given to scaleDeployment: a JSON object of at most MAX_CONFIG_BYTES. */
function validDeploymentConfig(config: unknown): Record<string, unknown> {
  if (!config || typeof config !== "object" || Array.isArray(config)) throw badInput("The config must be a JSON object");
  if (Buffer.byteLength(JSON.stringify(config)) > MAX_CONFIG_BYTES) throw badInput(`The config must be at most ${MAX_CONFIG_BYTES} bytes of JSON`);
  return config as Record<string, unknown>;
}
