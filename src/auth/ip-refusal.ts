import type { Authorizer, IpRefusalListener } from "../authz/authorizer.js";
import { ref } from "../authz/model.js";
import type { AppDeps } from "../context.js";
import { recordIpRefusal } from "../modules/audit/audit.js";
import type { Principal } from "./principal.js";

/** A team or service-account key used from an address its team's or organization's IP allowlist refuses. */
export class IpNotAllowedError extends Error {
  constructor() {
    super("This key's team does not allow requests from this IP address");
  }
}

/** Where a request came from and which it is: what a refusal is recorded with. */
export interface RequestOrigin {
  /** The caller's address, canonical (src/ip-address.ts); undefined when unknown (every allowlist then denies). */
  clientIp: string | undefined;
  requestId: string;
  /** Which surface asked: "graphql", "authorize", "export". */
  via: string;
}

/**
 * Keys bound to one team (team keys, service-account keys) are refused up front when
 * `team#ip_refused` holds — the address is outside the team's or the organization's list —
 * whatever they ask; a user instead loses sight of the objects of the refusing scope
 * (Authorizer.hiddenBy). Without a known address the check is CONDITIONAL, so no up-front
 * refusal, but every caveated check fails the same way: nothing is allowed.
 */
export async function refuseKeyFromOutside(deps: AppDeps, principal: Principal, authz: Authorizer, origin: RequestOrigin): Promise<void> {
  if (principal.kind === "USER") return;
  const team = ref("team", principal.teamId);
  if (!(await authz.can(team, "ip_refused"))) return;
  await recordIpRefusal(deps, { principal, clientIp: origin.clientIp, resource: team, requestId: origin.requestId, via: origin.via });
  throw new IpNotAllowedError();
}

/** The Authorizer's listener: records each IP_NOT_ALLOWED it answers. */
export const ipRefusalRecorder =
  (deps: AppDeps, principal: Principal | undefined, origin: RequestOrigin): IpRefusalListener =>
  async (resource) => {
    if (principal) await recordIpRefusal(deps, { principal, clientIp: origin.clientIp, resource, requestId: origin.requestId, via: origin.via });
  };
