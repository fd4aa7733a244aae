import { builder } from "../../graphql/builder.js";
import { filteredKeysetConnection } from "../../graphql/pagination.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { EnvironmentRef } from "../environment/environment.graphql.js";
import { environmentRef } from "../environment/environment.service.js";
import { TeamRef } from "../team/team.graphql.js";
import { PrincipalRef, loadPrincipal } from "../user/user.graphql.js";
import { deploymentHistory, getDeployment, HISTORY_LIMIT, MAX_CONFIG_BYTES, promoteDeployment, removeDeployment, scaleDeployment } from "./deployment.service.js";
import { listModelsPage, type Deployment, type Model } from "./model.repository.js";
import { createModel, deleteModel, deployModel, getModel, modelRef } from "./model.service.js";

export const ModelRef = builder.objectRef<Model>("Model");
export const DeploymentRef = builder.objectRef<Deployment>("Deployment");

builder.node(ModelRef, {
  id: { resolve: (model) => model.id },
  authScopes: (model) => ({ visible: scopeKey(modelRef(model.id)) }),
  loadOne: (id, ctx) => getModel(ctx, id),
  fields: (t) => ({
    name: t.exposeString("name"),
    team: t.field({ type: TeamRef, resolve: async (model, _args, ctx) => (await ctx.loaders.team.load(model.team_id))! }),
    deployments: t.field({
      type: [DeploymentRef],
      description: "The active deployment in each environment the caller can view.",
      // An environment outside a key's scope drops its deployment (one bulk check).
      resolve: async (model, _args, ctx) =>
        ctx.authz.filter(await ctx.loaders.activeDeployments.load(model.id), (d) => environmentRef(d.environment_id), "view"),
    }),
    deploymentHistory: t.field({
      type: [DeploymentRef],
      args: { environment: t.arg.string({ description: "Only this environment's versions." }) },
      description: `Every version, active or not, newest first (at most ${HISTORY_LIMIT}), in the environments the caller can view.`,
      resolve: (model, args, ctx) => deploymentHistory(ctx, model, args.environment),
    }),
    createdAt: t.field({ type: "DateTime", resolve: (model) => model.created_at }),
  }),
});

builder.node(DeploymentRef, {
  id: { resolve: (deployment) => deployment.id },
  // A deployment is visible when both its model and its environment are (key scopes cover both).
  authScopes: (deployment) => ({
    $all: { visible: scopeKey(modelRef(deployment.model_id)), $any: { visible: scopeKey(environmentRef(deployment.environment_id)) } },
  }),
  loadOne: (id, ctx) => getDeployment(ctx, id),
  fields: (t) => ({
    model: t.field({ type: ModelRef, resolve: async (d, _args, ctx) => (await ctx.loaders.model.load(d.model_id))! }),
    environment: t.field({ type: EnvironmentRef, resolve: async (d, _args, ctx) => (await ctx.loaders.environment.load(d.environment_id))! }),
    version: t.exposeInt("version"),
    active: t.exposeBoolean("active", { description: "Whether this version serves: one per model and environment; older and removed ones are history." }),
    config: t.field({ type: "JSON", nullable: true, resolve: (d) => d.config ?? null }),
    createdAt: t.field({ type: "DateTime", resolve: (d) => d.created_at }),
    createdBy: t.field({ type: PrincipalRef, nullable: true, resolve: (d, _args, ctx) => loadPrincipal(ctx.loaders, d.created_by) }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  models: t.connection(
    {
      type: ModelRef,
      description: "The team's models the caller can view: Postgres pages, each filtered by one bulk check, until `first` are found or none remain.",
      resolve: (team, args, ctx) =>
        filteredKeysetConnection(
          args,
          (after, limit) => listModelsPage(ctx.db, team.id, { after, limit }),
          (model) => model.id,
          (rows) => ctx.authz.filter(rows, (m) => modelRef(m.id), "view"),
        ),
    },
    { name: "ModelConnection" },
    { name: "ModelEdge" },
  ),
}));

const DeployModelInput = builder.inputType("DeployModelInput", {
  fields: (t) => ({
    modelName: t.string({ required: true }),
    teamId: t.id({
      description:
        "Optional: without it the team is inferred: the only team where the caller can deploy; else the only such team that already has a model of that name; else BAD_USER_INPUT.",
    }),
    environment: t.string({ required: true }),
    config: t.field({ type: "JSON" }),
  }),
});

builder.mutationFields((t) => ({
  createModel: t.field({
    audit: "model.create",
    type: ModelRef,
    args: { teamId: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => createModel(ctx, args.teamId, args.name),
  }),
  deployModel: t.field({
    audit: "model.deploy",
    type: DeploymentRef,
    args: { input: t.arg({ type: DeployModelInput, required: true }) },
    resolve: (_root, { input }, ctx) => deployModel(ctx, input),
  }),
  promoteDeployment: t.field({
    audit: "deployment.promote",
    type: DeploymentRef,
    description:
      "This deployment's model and config become the active deployment of the team's environment of that name (a new version there). Needs model edit and environment manage on the target; a restricted target needs a grant or org ADMIN.",
    args: { id: t.arg.id({ required: true }), environment: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => promoteDeployment(ctx, args.id, args.environment),
  }),
  scaleDeployment: t.field({
    audit: "deployment.scale",
    type: DeploymentRef,
    description: `A new version of the active deployment with this config (a JSON object, at most ${MAX_CONFIG_BYTES} bytes); CONFLICT for any other version.`,
    args: { id: t.arg.id({ required: true }), config: t.arg({ type: "JSON", required: true }) },
    resolve: (_root, args, ctx) => scaleDeployment(ctx, args.id, args.config),
  }),
  removeDeployment: t.boolean({
    audit: "deployment.remove",
    description:
      "Stops the active deployment: the model has no active deployment in that environment any more; its versions stay in deploymentHistory. Removing a version that is not the active one is CONFLICT (not idempotent: a newer version may still serve).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => removeDeployment(ctx, args.id),
  }),
  deleteModel: t.boolean({
    audit: "model.delete",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deleteModel(ctx, args.id),
  }),
}));
