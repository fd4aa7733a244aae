import { ipRefusalRecorder, IpNotAllowedError, refuseKeyFromOutside } from "../../auth/ip-refusal.js";
import type { Principal } from "../../auth/principal.js";
import type { Authorizer } from "../../authz/authorizer.js";
import type { Decision } from "../../authz/decision.js";
import type { AppDeps } from "../../context.js";
import { IP_NOT_ALLOWED_MESSAGE } from "../../errors.js";
import { canonicalAddress } from "../../ip-address.js";
import { recordIpRefusal } from "../audit/audit.js";

/**
 * The first stage of POST /v1/authorize (issue 14): IP allowlists. The address is the body's
 * `clientIp` — the gateway passes its end client's — or else the HTTP client's own
 * (client-address.ts). From here on every check of the decision carries it (caveat context).
 * Team and service-account keys are refused up front when their team's or organization's
 * list refuses it; for a user, the decision's bulk check asks `team#ip_refused` (authorize.ts).
 */

/** What `parseAuthorizeRequest` adds to the request: the optional `clientIp` field, canonical. */
export function parseClientIp(value: unknown, refuse: (message: string) => Error): { clientIp?: string } {
  if (value === undefined) return {};
  const clientIp = typeof value === "string" && value.length <= 64 ? canonicalAddress(value) : undefined;
  if (!clientIp) throw refuse('"clientIp" must be an IPv4 or IPv6 address');
  return { clientIp };
}

export const IP_NOT_ALLOWED_DECISION: Decision = { allowed: false, reason: IP_NOT_ALLOWED_MESSAGE, code: "IP_NOT_ALLOWED" };

/**
 * The Authorizer of the decision, asking from `clientIp`; or the refusal of a key whose team
 * refuses it (recorded in the security log).
 */
export async function admitFrom(
  deps: AppDeps,
  authz: Authorizer,
  principal: Principal,
  clientIp: string | undefined,
  requestId: string,
): Promise<{ authz: Authorizer } | { refused: Decision }> {
  const origin = { clientIp, requestId, via: "authorize" };
  const located = authz.withContext(clientIp ? { clientIp } : {}, ipRefusalRecorder(deps, principal, origin));
  try {
    await refuseKeyFromOutside(deps, principal, located, origin);
  } catch (error) {
    if (error instanceof IpNotAllowedError) return { refused: IP_NOT_ALLOWED_DECISION };
    throw error;
  }
  return { authz: located };
}

/** A user's decision refused by an allowlist is recorded too (a cached one as well: each attempt counts). */
export async function recordRefusedDecision(deps: AppDeps, principal: Principal, decision: Decision, context: { clientIp?: string; team: string; requestId: string }) {
  if (decision.allowed || decision.code !== "IP_NOT_ALLOWED" || principal.kind !== "USER") return;
  await recordIpRefusal(deps, { principal, clientIp: context.clientIp, resource: { type: "team", id: context.team }, requestId: context.requestId, via: "authorize" });
}
