import { authenticateRequest } from "../auth/authenticate.js";
import type { JwtVerifier } from "../auth/jwt.js";
import type { Principal } from "../auth/principal.js";
import type { Authorizer } from "../authz/authorizer.js";
import type { AppDeps } from "../context.js";
import { errorCode } from "../errors.js";

/**
 * The signed-in caller of a plain HTTP route (the NDJSON exports), or the response that
 * refuses it: 503 when the identity provider cannot be reached (an outage, not a bad
 * credential), 401 for missing or bad credentials.
 */
export async function routeCaller(
  deps: AppDeps,
  jwt: JwtVerifier | undefined,
  request: Request,
): Promise<{ principal: Principal; authz: Authorizer } | Response> {
  try {
    const caller = await authenticateRequest(deps, jwt, request.headers.get("authorization"));
    if (caller.principal) return { principal: caller.principal, authz: caller.authz };
  } catch (error) {
    if (errorCode(error) === "AUTHZ_UNAVAILABLE") return Response.json({ error: "Authorization is unavailable" }, { status: 503 });
  }
  return Response.json({ error: "Missing or invalid credentials" }, { status: 401 });
}
