import { builder } from "../../graphql/builder.js";
import { TeamRef } from "./team.graphql.js";
import { limitsOf, setTeamLimits, viewsTeamLimits, type TeamLimits } from "./team-limits.service.js";

export const TeamLimitsRef = builder.objectRef<TeamLimits>("TeamLimits").implement({
  description: "A team's limits on /v1/authorize's model:invoke decisions; null: no limit.",
  fields: (t) => ({
    requestsPerMinute: t.exposeInt("requestsPerMinute", { nullable: true, description: "Allowed decisions per calendar minute (UTC), across every API process." }),
    monthlyInvocations: t.exposeInt("monthlyInvocations", { nullable: true, description: "Allowed decisions per calendar month (UTC): the team's budget." }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  limits: t.field({
    type: TeamLimitsRef,
    description: "Rate limit and budget (team:view, or billing:view on its organization).",
    authScopes: (team, _args, ctx) => viewsTeamLimits(ctx, team),
    resolve: (team) => limitsOf(team),
  }),
}));

builder.mutationFields((t) => ({
  setTeamLimits: t.field({
    audit: "team.set_limits",
    type: TeamLimitsRef,
    description: "Sets the team's rate limit and monthly budget (billing:manage: org ADMIN, BILLING_ADMIN). Left out: unchanged; null: no limit.",
    args: { teamId: t.arg.id({ required: true }), requestsPerMinute: t.arg.int(), monthlyInvocations: t.arg.int() },
    resolve: (_root, args, ctx) => setTeamLimits(ctx, args.teamId, args),
  }),
}));
