/** An allow/deny answer of the inference gateway (modules/gateway/authorize.ts). */
/**
 * `rule`: the tool-policy rule that decided, when the call asked the tool policy (modules/gateway/tool-policy-stage.ts).
 * `code` IP_NOT_ALLOWED: an IP allowlist refused the address (issue 14); the endpoint answers 403 with it.
 */
export type Decision = { allowed: true; rule?: string } | { allowed: false; reason: string; rule?: string; code?: "IP_NOT_ALLOWED" };

/** Why, as a short stable name (a metric label: never an id); the caller reads `reason` instead. */
export const GATEWAY_OUTCOMES = ["granted", "other_team", "no_such_model", "no_such_environment", "not_allowed", "ip_not_allowed", "tool_policy", "rate_limited", "budget_exhausted"] as const;
export type GatewayOutcome = (typeof GATEWAY_OUTCOMES)[number];

/**
 * A gateway decision as cached across requests (context.ts AuthzCaches.decisions): the answer,
 * why, and the team whose usage an allowed invocation counts to.
 */
export interface GatewayVerdict {
  decision: Decision;
  outcome: GatewayOutcome;
  team?: { id: string; orgId: string; limits?: TeamLimitValues };
}

/** A team's rate limit and monthly budget as the decision read them (absent: the team has neither). */
export interface TeamLimitValues {
  requestsPerMinute: number | null;
  monthlyInvocations: number | null;
  /** Moves with every change of the limits (the monthly counter's key, modules/gateway/limits.ts). */
  version: number;
}
