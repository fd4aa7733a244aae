/** An allow/deny answer of the inference gateway (modules/gateway/authorize.ts). */
/** `code` IP_NOT_ALLOWED: an IP allowlist refused the address (issue 14); the endpoint answers 403 with it. */
export type Decision = { allowed: true } | { allowed: false; reason: string; code?: "IP_NOT_ALLOWED" };

/** Why, as a short stable name (a metric label: never an id); the caller reads `reason` instead. */
export const GATEWAY_OUTCOMES = ["granted", "other_team", "no_such_model", "no_such_environment", "not_allowed", "ip_not_allowed"] as const;
export type GatewayOutcome = (typeof GATEWAY_OUTCOMES)[number];

/**
 * A gateway decision as cached across requests (context.ts AuthzCaches.decisions): the answer,
 * why, and the team whose usage an allowed invocation counts to.
 */
export interface GatewayVerdict {
  decision: Decision;
  outcome: GatewayOutcome;
  team?: { id: string; orgId: string };
}
