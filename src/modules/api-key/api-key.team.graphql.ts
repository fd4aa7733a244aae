import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { EnvironmentRef } from "../environment/environment.graphql.js";
import { ModelRef } from "../model/model.graphql.js";
import { TeamRef } from "../team/team.graphql.js";
import { teamRef } from "../team/team.service.js";
import { ApiKeyRef, ApiKeyTypeEnum } from "./api-key.graphql.js";
import { rotateApiKey } from "./api-key-rotation.service.js";
import { apiKeysOfTeam, createApiKey, revokeApiKey, scopedEnvironments, scopedModels } from "./api-key.service.js";

builder.objectFields(ApiKeyRef, (t) => ({
  team: t.field({
    type: TeamRef,
    nullable: true,
    resolve: async (key, _args, ctx) => (key.team_id ? ((await ctx.loaders.team.load(key.team_id)) ?? null) : null),
  }),
  environments: t.field({
    type: [EnvironmentRef],
    description: "The environments a team key is scoped to; empty: every environment of its team.",
    resolve: (key, _args, ctx) => scopedEnvironments(ctx, key),
  }),
  models: t.field({
    type: [ModelRef],
    description: "The models a team key is scoped to; empty: every model of its team.",
    resolve: (key, _args, ctx) => scopedModels(ctx, key),
  }),
}));

builder.objectFields(TeamRef, (t) => ({
  apiKeys: t.field({
    type: [ApiKeyRef],
    description: "The team's keys and its service accounts' keys, for its key managers.",
    authScopes: (team) => ({ can: scopeKey(teamRef(team.id), "manage_keys") }),
    resolve: (team, _args, ctx) => apiKeysOfTeam(ctx.db, team.id),
  }),
}));

const CreateApiKeyInput = builder.inputType("CreateApiKeyInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    teamId: t.id({ description: "Without teamId and serviceAccountId: a personal key of the caller." }),
    serviceAccountId: t.id(),
    type: t.field({ type: ApiKeyTypeEnum }),
    environmentIds: t.idList(),
    modelIds: t.idList(),
    expiresAt: t.field({ type: "DateTime" }),
    requestsPerMinute: t.int({ description: "The key's own limit of allowed model:invoke decisions per minute (the stricter of key and team applies); omitted: none." }),
  }),
});

const CreateApiKeyPayload = builder.objectRef<Awaited<ReturnType<typeof createApiKey>>>("CreateApiKeyPayload").implement({
  fields: (t) => ({
    apiKey: t.expose("apiKey", { type: ApiKeyRef }),
    secret: t.exposeString("secret", { description: "The key itself, shown once." }),
  }),
});

builder.mutationFields((t) => ({
  createApiKey: t.field({
    audit: "api_key.create",
    type: CreateApiKeyPayload,
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => createApiKey(ctx, input),
  }),
  rotateApiKey: t.field({
    audit: "api_key.rotate",
    type: CreateApiKeyPayload,
    description:
      "A new secret for the same key (id, type, scope, grants and usage kept), shown once. The previous secret keeps working for graceSeconds (0..604800, default 0), never past the key's expiry; a second rotation ends the first secret at once. Authorized as creating that key would be; the key policy caps its expiry.",
    args: { id: t.arg.id({ required: true }), graceSeconds: t.arg.int() },
    resolve: (_root, args, ctx) => rotateApiKey(ctx, args.id, args.graceSeconds),
  }),
  revokeApiKey: t.field({
    audit: "api_key.revoke",
    type: ApiKeyRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => revokeApiKey(ctx, args.id),
  }),
}));
