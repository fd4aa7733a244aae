/** An allow/deny answer of the inference gateway (modules/gateway/authorize.ts). */
export type Decision = { allowed: true } | { allowed: false; reason: string };

/**
 * A gateway decision as cached across requests (context.ts AuthzCaches.decisions): the answer,
 * and the team whose usage an allowed invocation counts to.
 */
export interface GatewayVerdict {
  decision: Decision;
  team?: { id: string; orgId: string };
}
