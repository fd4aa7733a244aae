import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { OrganizationRef } from "../organization/organization.graphql.js";
import { orgRef } from "../organization/organization.service.js";
import { TeamRef } from "../team/team.graphql.js";
import { viewsTeamLimits } from "../team/team-limits.service.js";
import { teamMonthUsage, type TeamMonthUsage } from "../gateway/limits.js";
import { teamsByIds } from "../team/team.service.js";
import { usageByTeam } from "./usage.js";

interface UsageReport {
  totalInvocations: number;
  byTeam: { team: Awaited<ReturnType<typeof teamsByIds>>[number]; invocations: number }[];
}

const TeamUsageRef = builder.objectRef<UsageReport["byTeam"][number]>("TeamUsage").implement({
  fields: (t) => ({
    team: t.expose("team", { type: TeamRef }),
    invocations: t.exposeInt("invocations"),
  }),
});

const UsageRef = builder.objectRef<UsageReport>("Usage").implement({
  fields: (t) => ({
    totalInvocations: t.exposeInt("totalInvocations"),
    byTeam: t.expose("byTeam", { type: [TeamUsageRef] }),
  }),
});

builder.objectFields(OrganizationRef, (t) => ({
  usage: t.field({
    type: UsageRef,
    description: "Model invocations allowed by /v1/authorize, per team (ADMIN and BILLING_ADMIN).",
    args: { from: t.arg({ type: "DateTime" }), to: t.arg({ type: "DateTime" }) },
    authScopes: (org) => ({ can: scopeKey(orgRef(org.id), "billing_view") }),
    resolve: async (org, args, ctx) => {
      // This process's counts are still in memory: write them first, so the report includes them.
      await ctx.deps.usage.flush();
      const rows = await usageByTeam(ctx.db, org.id, args.from ?? null, args.to ?? null);
      const teams = new Map((await teamsByIds(ctx.db, rows.map((r) => r.teamId))).map((team) => [team.id, team]));
      const byTeam = rows.flatMap((row) => (teams.has(row.teamId) ? [{ team: teams.get(row.teamId)!, invocations: row.invocations }] : []));
      return { totalInvocations: byTeam.reduce((sum, row) => sum + row.invocations, 0), byTeam };
    },
  }),
}));

const TeamMonthlyUsageRef = builder.objectRef<TeamMonthUsage>("TeamMonthlyUsage").implement({
  description: "A team's model invocations this calendar month (UTC) against its monthly budget.",
  fields: (t) => ({
    periodStart: t.field({ type: "DateTime", description: "The start of this month (UTC).", resolve: (u) => u.periodStart }),
    resetsAt: t.field({ type: "DateTime", description: "When the budget starts again: the start of next month (UTC).", resolve: (u) => u.resetsAt }),
    invocations: t.exposeInt("invocations", { description: "Allowed model:invoke decisions so far this month." }),
    budget: t.exposeInt("budget", { nullable: true, description: "The team's monthlyInvocations; null: no budget." }),
    remaining: t.exposeInt("remaining", { nullable: true, description: "budget minus invocations, never below 0; null: no budget." }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  usage: t.field({
    type: TeamMonthlyUsageRef,
    description: "This month's invocations against the budget (team:view, or billing:view on its organization).",
    authScopes: (team, _args, ctx) => viewsTeamLimits(ctx, team),
    resolve: (team, _args, ctx) => teamMonthUsage(ctx.deps, team),
  }),
}));
