import { authenticateRequest, IpNotAllowedError } from "../auth/authenticate.js";
import type { JwtVerifier } from "../auth/jwt.js";
import type { Principal } from "../auth/principal.js";
import type { Authorizer } from "../authz/authorizer.js";
import type { AppDeps } from "../context.js";
import { errorCode } from "../errors.js";
import { requestIdOf } from "../observability/request-id.js";

/**
 * The signed-in caller of a plain HTTP route (the NDJSON exports), or the response that
 * refuses it: 503 when the identity provider cannot be reached (an outage, not a bad
 * credential), 401 for missing or bad credentials, 403 IP_NOT_ALLOWED for a team's key from
 * an address its team refuses. `clientIp`: the caller's exact address (client-address.ts clientIpOf).
 */
export async function routeCaller(
  deps: AppDeps,
  jwt: JwtVerifier | undefined,
  request: Request,
  clientIp: string | undefined,
): Promise<{ principal: Principal; authz: Authorizer } | Response> {
  try {
    const origin = { clientIp, requestId: requestIdOf(request), via: "export" };
    const caller = await authenticateRequest(deps, jwt, request.headers.get("authorization"), origin);
    if (caller.principal) return { principal: caller.principal, authz: caller.authz };
  } catch (error) {
    if (error instanceof IpNotAllowedError) return Response.json({ error: error.message, code: "IP_NOT_ALLOWED" }, { status: 403 });
    if (errorCode(error) === "AUTHZ_UNAVAILABLE") return Response.json({ error: "Authorization is unavailable" }, { status: 503 });
  }
  return Response.json({ error: "Missing or invalid credentials" }, { status: 401 });
}
