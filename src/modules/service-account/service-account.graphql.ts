import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { ApiKeyRef } from "../api-key/api-key.graphql.js";
import { TeamRef, TeamRoleEnum } from "../team/team.graphql.js";
import { teamMembershipOf, teamRef } from "../team/team.service.js";
import { deleteServiceAccount } from "../team/team-membership.service.js";
import { PrincipalKind, PrincipalRef } from "../user/user.graphql.js";
import { listServiceAccounts, type ServiceAccount } from "./service-account.repository.js";
import { createServiceAccount, getServiceAccount, serviceAccountRef } from "./service-account.service.js";

export const ServiceAccountRef = builder.objectRef<ServiceAccount>("ServiceAccount");

builder.node(ServiceAccountRef, {
  id: { resolve: (account) => account.id },
  interfaces: [PrincipalRef],
  // Visible to whoever views its team, and to itself (acting through its key).
  authScopes: (account, ctx) => (ctx.principal?.id === account.id ? { authenticated: true } : { visible: scopeKey(serviceAccountRef(account.id)) }),
  loadOne: (id, ctx) => getServiceAccount(ctx, id),
  fields: (t) => ({
    kind: t.field({ type: PrincipalKind, resolve: () => "SERVICE_ACCOUNT" as const }),
    displayName: t.exposeString("name"),
    name: t.exposeString("name"),
    team: t.field({ type: TeamRef, resolve: async (account, _args, ctx) => (await ctx.loaders.team.load(account.team_id))! }),
    role: t.field({
      type: TeamRoleEnum,
      resolve: async (account, _args, ctx) => (await teamMembershipOf(ctx.db, account.team_id, account.id))!.role,
    }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  serviceAccounts: t.field({
    type: [ServiceAccountRef],
    authScopes: (team) => ({ can: scopeKey(teamRef(team.id), "view") }),
    resolve: (team, _args, ctx) => listServiceAccounts(ctx.db, team.id),
  }),
}));

const CreateServiceAccountPayload = builder.objectRef<Awaited<ReturnType<typeof createServiceAccount>>>("CreateServiceAccountPayload").implement({
  fields: (t) => ({
    serviceAccount: t.expose("serviceAccount", { type: ServiceAccountRef }),
    apiKey: t.expose("apiKey", { type: ApiKeyRef }),
    secret: t.exposeString("secret", { description: "The key itself, shown once." }),
  }),
});

builder.mutationField("createServiceAccount", (t) =>
  t.field({
    audit: "service_account.create",
    type: CreateServiceAccountPayload,
    args: { teamId: t.arg.id({ required: true }), name: t.arg.string({ required: true }), role: t.arg({ type: TeamRoleEnum, required: true }) },
    resolve: (_root, args, ctx) => createServiceAccount(ctx, args.teamId, args.name, args.role),
  }),
);

builder.mutationField("deleteServiceAccount", (t) =>
  t.boolean({
    audit: "service_account.delete",
    description:
      "Deletes the service account and its keys (they fail from the next request on). Needs team:manage_keys and, as removing a member does, everything its role confers.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deleteServiceAccount(ctx, args.id),
  }),
);
