import { sql } from "kysely";
import type { Plugin } from "graphql-yoga";
import { AuthenticationError, authenticate } from "../auth/authenticate.js";
import type { JwtVerifier } from "../auth/jwt.js";
import { keyIdOf, subjectOf } from "../auth/principal.js";
import { Authorizer, RequestSnapshot } from "../authz/authorizer.js";
import type { AppDeps } from "../context.js";
import { errorCode } from "../errors.js";
import type { RateLimits } from "./hardening.js";
import { auditExportResponse } from "../modules/audit/audit-export.js";
import { BadAuthorizeRequest, decide, parseAuthorizeRequest } from "../modules/gateway/authorize.js";

/**
 * The non-GraphQL endpoints, as a yoga plugin so that one fetch handler (and `yoga.fetch` in
 * tests) serves everything:
 * - GET /healthz: the process is up;
 * - GET /readyz: Postgres and SpiceDB both answer (503 otherwise, so a load balancer stops
 *   sending traffic here);
 * - POST /v1/authorize: the inference gateway's allow/deny;
 * - GET /v1/audit/export: the organization's audit log as NDJSON, for org ADMINs.
 */
export function useOrgraphRoutes(deps: AppDeps, jwt: JwtVerifier | undefined, limits: RateLimits): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
        endResponse(fetchAPI.Response.json(body, { status, headers }));
      if (url.pathname === "/healthz") {
        json({ status: "ok" });
      } else if (url.pathname === "/readyz") {
        const checks = { postgres: await probe(() => sql`select 1`.execute(deps.db)), spicedb: await probe(() => probeSpiceDb(deps)) };
        const ready = checks.postgres && checks.spicedb && !deps.lifecycle.draining;
        json({ status: deps.lifecycle.draining ? "draining" : ready ? "ready" : "unavailable", checks }, ready ? 200 : 503);
      } else if (url.pathname === "/v1/audit/export") {
        const snapshot = new RequestSnapshot(deps.consistency);
        let principal;
        try {
          principal = await authenticate(deps, jwt, request.headers.get("authorization"), snapshot);
        } catch {
          return json({ error: "Missing or invalid credentials" }, 401);
        }
        const authz = new Authorizer(deps, principal && subjectOf(principal), snapshot);
        endResponse(await auditExportResponse(deps.db, authz, principal, url));
      } else if (url.pathname === "/v1/authorize") {
        if (request.method !== "POST") return json({ error: "Use POST" }, 405);
        const [body, status, headers] = await authorizeResponse(deps, jwt, limits, request);
        json(body, status, headers);
      }
    },
  };
}

/** 200 allowed, 403 denied, 400 malformed, 401 bad credentials, 429 too many, 503 SpiceDB unavailable. */
async function authorizeResponse(
  deps: AppDeps,
  jwt: JwtVerifier | undefined,
  limits: RateLimits,
  request: Request,
): Promise<[unknown, number, Record<string, string>?]> {
  try {
    const snapshot = new RequestSnapshot(deps.consistency);
    const principal = await authenticate(deps, jwt, request.headers.get("authorization"), snapshot);
    if (!principal) return [{ allowed: false, reason: "Missing credentials" }, 401];
    const retryAfter = await limits.decision(keyIdOf(principal) ?? principal.id);
    if (retryAfter > 0) return [{ allowed: false, reason: "Too many requests" }, 429, { "Retry-After": String(retryAfter) }];
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return [{ error: "The body must be JSON" }, 400];
    }
    const authz = new Authorizer(deps, subjectOf(principal), snapshot);
    const decision = await decide(deps, authz, principal, parseAuthorizeRequest(body));
    return [decision, decision.allowed ? 200 : 403];
  } catch (error) {
    if (error instanceof AuthenticationError) return [{ allowed: false, reason: error.message }, 401];
    if (error instanceof BadAuthorizeRequest) return [{ error: error.message }, 400];
    if (errorCode(error) === "AUTHZ_UNAVAILABLE") return [{ allowed: false, reason: "Authorization is unavailable" }, 503];
    deps.logger.error({ err: error }, "authorize failed");
    return [{ allowed: false, reason: "Internal error" }, 500];
  }
}

async function probeSpiceDb(deps: AppDeps): Promise<void> {
  await deps.authzClient.checkBulk(
    [{ resource: { type: "organization", id: "readyz" }, permission: "view", subject: { type: "user", id: "readyz" } }],
    { kind: "full" },
  );
}

async function probe(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}
