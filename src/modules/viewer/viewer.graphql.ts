import type { Principal } from "../../auth/principal.js";
import { builder } from "../../graphql/builder.js";
import { OrganizationRef } from "../organization/organization.graphql.js";
import { organizationsByIds } from "../organization/organization.service.js";
import { TeamRef } from "../team/team.graphql.js";
import { candidateTeams, teamRef } from "../team/team.service.js";
import { PrincipalRef, UserRef, loadPrincipal } from "../user/user.graphql.js";
import { userById } from "../user/user.service.js";

/** The caller: who they are and what they can reach (the console's team selector). */
export const ViewerRef = builder.objectRef<Principal>("Viewer").implement({
  fields: (t) => ({
    principal: t.field({
      type: PrincipalRef,
      resolve: async (principal, _args, ctx) => (await loadPrincipal(ctx.loaders, principal.id))!,
    }),
    user: t.field({
      type: UserRef,
      nullable: true,
      description: "Null when the caller is a team key or a service account.",
      resolve: async (principal, _args, ctx) => (principal.kind === "USER" ? ((await userById(ctx.db, principal.id)) ?? null) : null),
    }),
    organizations: t.field({
      type: [OrganizationRef],
      resolve: async (_principal, _args, ctx) => organizationsByIds(ctx.db, await ctx.authz.lookup("organization", "view")),
    }),
    teams: t.field({
      type: [TeamRef],
      description: "Every team the caller can view, across organizations.",
      // The candidates from Postgres, decided by one bulk check: measured faster than
      // LookupResources on the embedded SpiceDB (bench/, B2).
      resolve: async (principal, _args, ctx) => ctx.authz.filter(await candidateTeams(ctx.db, principal), (team) => teamRef(team.id), "view"),
    }),
  }),
});

builder.queryField("viewer", (t) =>
  t.field({
    type: ViewerRef,
    resolve: (_root, _args, ctx) => ctx.principal!,
  }),
);
