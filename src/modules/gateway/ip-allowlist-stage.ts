import { ipRefusalRecorder } from "../../auth/ip-refusal.js";
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
 * The decision's first stage (authorize.ts) refuses with 403 IP_NOT_ALLOWED when `team#ip_refused`
 * holds: for a team or service-account key its own team, whatever it asks; for a user the team
 * named, only if they would enter it from an allowed address.
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
 * The Authorizer of the decision, asking from `clientIp`. The refusal itself is part of the
 * decision's one bulk check (authorize.ts asks `team#ip_refused` beside the permissions), for
 * keys and users alike, so an IP allowlist costs no SpiceDB round trip of its own.
 */
export function locate(deps: AppDeps, authz: Authorizer, principal: Principal, clientIp: string | undefined, requestId: string): Authorizer {
  return authz.withContext(clientIp ? { clientIp } : {}, ipRefusalRecorder(deps, principal, { clientIp, requestId, via: "authorize" }));
}

/** A decision refused by an allowlist is recorded (a cached one as well: each attempt counts). */
export async function recordRefusedDecision(deps: AppDeps, principal: Principal, decision: Decision, context: { clientIp?: string; team?: string; requestId: string }) {
  if (decision.allowed || decision.code !== "IP_NOT_ALLOWED") return;
  const team = principal.kind === "USER" ? (context.team ?? "") : principal.teamId;
  await recordIpRefusal(deps, { principal, clientIp: context.clientIp, resource: { type: "team", id: team }, requestId: context.requestId, via: "authorize" });
}
