import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { ref } from "../../authz/model.js";
import { typeOfId } from "../../ids.js";
import { SUBJECT_TYPE_OF } from "../team/team-grantee.js";
import { TeamRef } from "../team/team.graphql.js";
import { PrincipalRef, loadPrincipal } from "../user/user.graphql.js";
import { listEnvironments, type Environment } from "./environment.repository.js";
import {
  createEnvironment,
  deleteEnvironment,
  environmentRef,
  getEnvironment,
  grantEnvironmentAccess,
  listGranteeIds,
  revokeEnvironmentAccess,
  setEnvironmentRestricted,
} from "./environment.service.js";

export const EnvironmentRef = builder.objectRef<Environment>("Environment");

builder.node(EnvironmentRef, {
  id: { resolve: (environment) => environment.id },
  authScopes: (environment) => ({ visible: scopeKey(environmentRef(environment.id)) }),
  loadOne: (id, ctx) => getEnvironment(ctx, id),
  fields: (t) => ({
    name: t.exposeString("name"),
    restricted: t.exposeBoolean("restricted"),
    team: t.field({ type: TeamRef, resolve: async (environment, _args, ctx) => (await ctx.loaders.team.load(environment.team_id))! }),
    grantees: t.field({
      type: [PrincipalRef],
      description: "Who may manage deployments here while it is restricted (besides org ADMINs).",
      // A grantee the caller may not view (a team key, for a team VIEWER) drops from the list
      // (one bulk check); it would otherwise be NOT_FOUND inside a non-null list and null the team.
      resolve: async (environment, _args, ctx) => {
        const ids = await ctx.authz.filter(await listGranteeIds(ctx, environment.id), (id) => ref(SUBJECT_TYPE_OF[typeOfId(id)!]!, id), "view");
        const principals = await Promise.all(ids.map((id) => loadPrincipal(ctx.loaders, id)));
        return principals.filter((p) => p !== null);
      },
    }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  environments: t.field({
    type: [EnvironmentRef],
    // Each item is checked (one bulk check): no field gate, which would cost a round trip.
    resolve: async (team, _args, ctx) => ctx.authz.filter(await listEnvironments(ctx.db, team.id), (e) => environmentRef(e.id), "view"),
  }),
}));

builder.mutationFields((t) => ({
  createEnvironment: t.field({
    audit: "environment.create",
    type: EnvironmentRef,
    args: { teamId: t.arg.id({ required: true }), name: t.arg.string({ required: true }), restricted: t.arg.boolean() },
    resolve: (_root, args, ctx) => createEnvironment(ctx, args.teamId, args.name, args.restricted ?? false),
  }),
  setEnvironmentRestricted: t.field({
    audit: "environment.set_restricted",
    type: EnvironmentRef,
    args: { id: t.arg.id({ required: true }), restricted: t.arg.boolean({ required: true }) },
    resolve: (_root, args, ctx) => setEnvironmentRestricted(ctx, args.id, args.restricted),
  }),
  grantEnvironmentAccess: t.field({
    audit: "environment.access.grant",
    type: EnvironmentRef,
    args: { environmentId: t.arg.id({ required: true }), principalId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => grantEnvironmentAccess(ctx, args.environmentId, args.principalId),
  }),
  deleteEnvironment: t.boolean({
    audit: "environment.delete",
    description:
      "Deletes the environment with its deployment history and every relationship on it (team ADMINs: team:manage_environments). CONFLICT while it has active deployments, or while a team key is scoped to it alone (revoke that key first).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deleteEnvironment(ctx, args.id),
  }),
  revokeEnvironmentAccess: t.field({
    audit: "environment.access.revoke",
    type: EnvironmentRef,
    args: { environmentId: t.arg.id({ required: true }), principalId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => revokeEnvironmentAccess(ctx, args.environmentId, args.principalId),
  }),
}));
