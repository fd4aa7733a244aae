import type { RequestListener, ServerResponse } from "node:http";
import { AuthenticationError, authenticateRequest } from "../auth/authenticate.js";
import type { JwtVerifier } from "../auth/jwt.js";
import { keyIdOf } from "../auth/principal.js";
import type { AppDeps } from "../context.js";
import { errorCode } from "../errors.js";
import { BadAuthorizeRequest } from "../modules/gateway/authorize.js";
import {
  BadAuthzenRequest,
  checkedEvaluation,
  type DecisionSite,
  evaluate,
  evaluateAll,
  expandEvaluations,
  isJsonObject,
  semanticOf,
} from "../modules/gateway/authzen.js";
import { forRequest, requestIdFrom, tagServerSpan } from "../observability/request-id.js";
import { locate } from "../modules/gateway/ip-allowlist-stage.js";
import { LimitsUnavailable } from "../modules/gateway/limits.js";
import { BodyTooLarge, readJson, type AuthorizeAnswer, type Transport } from "./authorize-endpoint.js";
import { decisionClientIp, trustedProxyList, UntrustedClientIp } from "./client-address.js";
import type { RateLimits } from "./hardening.js";

/** The AuthZEN routes (the specification's default paths) and the PDP metadata document. */
export const AUTHZEN_PATHS = { evaluation: "/access/v1/evaluation", evaluations: "/access/v1/evaluations" } as const;
export const AUTHZEN_METADATA_PATH = "/.well-known/authzen-configuration";
export type AuthzenRoute = keyof typeof AUTHZEN_PATHS;

/** The route a request path names, if any (a query string is ignored). */
export function authzenRouteOf(url: string | undefined): AuthzenRoute | undefined {
  const path = url?.split("?")[0];
  return path === AUTHZEN_PATHS.evaluation ? "evaluation" : path === AUTHZEN_PATHS.evaluations ? "evaluations" : undefined;
}

export type AuthzenEndpoint = (route: AuthzenRoute, authorization: string | null, readBody: () => Promise<unknown>, requestId: string, transport: Transport) => Promise<AuthorizeAnswer>;

/**
 * The specification's error answer: an HTTP status with "an error message string" as its body
 * (text, not JSON). A denial is never an error: it is 200 with `"decision": false`.
 */
const failure = (status: number, message: string, headers: Record<string, string> = {}): AuthorizeAnswer => ({
  status,
  body: message,
  headers,
});

/**
 * POST /access/v1/evaluation and /access/v1/evaluations. The bearer credential is authenticated
 * exactly as for /v1/authorize and is rate limited by the same bucket, one decision per
 * evaluation. 200 with the decision(s); 400 malformed, 401 bad credentials, 413 too large,
 * 429 too many (Retry-After), 503 SpiceDB unavailable, 500 anything else (masked, logged).
 */
export function createAuthzenEndpoint(deps: AppDeps, jwt: JwtVerifier | undefined, limits: RateLimits): AuthzenEndpoint {
  const trustedProxies = trustedProxyList(deps.config.trustedProxies);
  return async (route, authorization, readBody, requestId, transport) => {
    if (deps.lifecycle.failed) return failure(503, "Authorization is unavailable");
    const requestDeps = forRequest(deps, requestId);
    try {
      const { principal, authz } = await authenticateRequest(requestDeps, jwt, authorization);
      if (!principal) return failure(401, "Missing credentials");
      let body: unknown;
      try {
        body = await readBody();
      } catch (error) {
        if (error instanceof BodyTooLarge) return failure(413, error.message);
        return failure(400, "The body must be JSON");
      }
      if (!isJsonObject(body)) throw new BadAuthzenRequest("The body must be a JSON object");
      const items = route === "evaluations" ? expandEvaluations(body) : undefined;
      const semantic = route === "evaluations" ? semanticOf(body) : "execute_all";
      const single = items ? undefined : checkedEvaluation(body, "The request");
      for (let i = 0; i < (items?.length ?? 1); i++) {
        const retryAfter = await limits.decision(keyIdOf(principal) ?? principal.id);
        if (retryAfter > 0) return failure(429, "Too many requests", { "Retry-After": String(retryAfter) });
      }
      // The IP stage of /v1/authorize, per evaluation (each may name its end client's address).
      const site: DecisionSite = {
        requestId,
        at: (named) => {
          let clientIp;
          try {
            clientIp = decisionClientIp(named, transport.peer, transport.forwardedFor, trustedProxies);
          } catch (error) {
            if (error instanceof UntrustedClientIp) throw new BadAuthorizeRequest(error.message);
            throw error;
          }
          return { authz: locate(requestDeps, authz, principal, clientIp, requestId), clientIp };
        },
      };
      if (single) return { status: 200, body: await evaluate(requestDeps, site, principal, single) };
      return { status: 200, body: { evaluations: await evaluateAll(requestDeps, site, principal, items!, semantic) } };
    } catch (error) {
      if (error instanceof AuthenticationError) return failure(401, error.message);
      if (error instanceof BadAuthzenRequest || error instanceof BadAuthorizeRequest) return failure(400, error.message);
      if (error instanceof LimitsUnavailable) return failure(503, error.message);
      if (errorCode(error) === "AUTHZ_UNAVAILABLE") return failure(503, "Authorization is unavailable");
      requestDeps.logger.error({ err: error }, "AuthZEN evaluation failed");
      return failure(500, "Internal error");
    }
  };
}

/**
 * The PDP metadata (AuthZEN 1.0 "Policy Decision Point Metadata"), at the well-known path. Its
 * `policy_decision_point` must equal the URL the PEP fetched it from: PUBLIC_URL when set,
 * else the origin the request was addressed to (scheme http unless PUBLIC_URL says https).
 */
export function authzenMetadata(publicUrl: string | undefined, requestOrigin: string): Record<string, string> {
  const base = (publicUrl ?? requestOrigin).replace(/\/+$/, "");
  return {
    policy_decision_point: base,
    access_evaluation_endpoint: `${base}${AUTHZEN_PATHS.evaluation}`,
    access_evaluations_endpoint: `${base}${AUTHZEN_PATHS.evaluations}`,
  };
}

/**
 * The AuthZEN evaluations on the HTTP server's fast path, beside /v1/authorize and for the same
 * reason (a PEP asks on every call): answered from Node's request, everything else goes on to
 * `next`. The caller's X-Request-ID comes back on the answer (request-id.ts keeps a plain one).
 */
export function withAuthzenRoutes(next: RequestListener, authzen: AuthzenEndpoint, maxBodyBytes: number): RequestListener {
  return (req, res) => {
    const route = req.method === "POST" ? authzenRouteOf(req.url) : undefined;
    if (!route) return next(req, res);
    const header = req.headers["x-request-id"];
    const requestId = requestIdFrom(typeof header === "string" ? header : undefined);
    tagServerSpan(requestId);
    res.setHeader("x-request-id", requestId);
    const forwardedFor = req.headers["x-forwarded-for"];
    const transport = { peer: req.socket.remoteAddress, forwardedFor: typeof forwardedFor === "string" ? forwardedFor : undefined };
    authzen(route, req.headers.authorization ?? null, () => readJson(req, maxBodyBytes), requestId, transport).then(
      (answer) => send(res, answer),
      () => send(res, failure(500, "Internal error")),
    );
  };
}

/** JSON answers as JSON; an error's message string as text. */
function send(res: ServerResponse, answer: AuthorizeAnswer): void {
  const text = typeof answer.body === "string";
  res.writeHead(answer.status, { "content-type": text ? "text/plain; charset=utf-8" : "application/json", ...answer.headers });
  res.end(text ? answer.body : JSON.stringify(answer.body));
}
