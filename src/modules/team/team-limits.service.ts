import type { AppContext } from "../../context.js";
import { describeAudit } from "../audit/audit.js";
import { MAX_MONTHLY_INVOCATIONS, MAX_REQUESTS_PER_MINUTE, validLimit } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { orgRef } from "../organization/organization.service.js";
import { updateTeamLimitsRow, type Team } from "./team.repository.js";
import { getBrowsableTeam, teamRef } from "./team.service.js";

/** What `Team.limits` shows; null: no limit. */
export interface TeamLimits {
  requestsPerMinute: number | null;
  monthlyInvocations: number | null;
}

export const limitsOf = (team: Team): TeamLimits => ({ requestsPerMinute: team.requests_per_minute, monthlyInvocations: team.monthly_invocations });

/**
 * Who sees a team's limits and usage: whoever views the team, and the organization's billing
 * viewers (billing admins browse every team to see its usage: spicedb/schema.zed team#browse).
 */
export async function viewsTeamLimits(ctx: AppContext, team: Team): Promise<boolean> {
  const [views, billing] = await Promise.all([ctx.authz.can(teamRef(team.id), "view"), ctx.authz.can(orgRef(team.org_id), "billing_view")]);
  return views || billing;
}

/**
 * Sets the team's rate limit and monthly budget for /v1/authorize: billing:manage on its
 * organization (org ADMIN, BILLING_ADMIN); a team ADMIN who is neither is FORBIDDEN, and a
 * team the caller cannot reach is NOT_FOUND. An argument left out keeps its value; null
 * removes that limit. Not a grant, so no escalation guard. The change moves the stamp
 * (writeTransaction), so no gateway decision cached under the old limits is served after it.
 */
export async function setTeamLimits(ctx: AppContext, teamId: string, input: { requestsPerMinute?: number | null; monthlyInvocations?: number | null }): Promise<TeamLimits> {
  const team = await getBrowsableTeam(ctx, teamId);
  // Whoever reaches the team reaches its organization (browse): refused as FORBIDDEN, never NOT_FOUND.
  await ctx.authz.require(orgRef(team.org_id), "billing_manage", "browse");
  const changes: { requests_per_minute?: number | null; monthly_invocations?: number | null } = {};
  if (input.requestsPerMinute !== undefined) changes.requests_per_minute = validLimit(input.requestsPerMinute, "requestsPerMinute", MAX_REQUESTS_PER_MINUTE);
  if (input.monthlyInvocations !== undefined) changes.monthly_invocations = validLimit(input.monthlyInvocations, "monthlyInvocations", MAX_MONTHLY_INVOCATIONS);
  const before = limitsOf(team);
  const after = { ...before, ...(changes.requests_per_minute !== undefined ? { requestsPerMinute: changes.requests_per_minute } : {}), ...(changes.monthly_invocations !== undefined ? { monthlyInvocations: changes.monthly_invocations } : {}) };
  describeAudit(ctx, {
    orgId: team.org_id,
    teamId,
    targetId: teamId,
    diff: Object.fromEntries((["requestsPerMinute", "monthlyInvocations"] as const).map((name) => [name, { before: before[name], after: after[name] }])),
  });
  return limitsOf(await writeTransaction(ctx, (tx) => updateTeamLimitsRow(tx, teamId, changes)));
}
