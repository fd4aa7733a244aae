import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { AuthenticationError, authenticateRequest } from "../auth/authenticate.js";
import type { JwtVerifier } from "../auth/jwt.js";
import { keyIdOf } from "../auth/principal.js";
import type { AppDeps } from "../context.js";
import { errorCode } from "../errors.js";
import { BadAuthorizeRequest, decide, parseAuthorizeRequest } from "../modules/gateway/authorize.js";
import { LimitRefusal, LimitsUnavailable } from "../modules/gateway/limits.js";
import { locate, recordRefusedDecision } from "../modules/gateway/ip-allowlist-stage.js";
import { decisionClientIp, trustedProxyList, UntrustedClientIp } from "./client-address.js";
import { forRequest, requestIdFrom, tagServerSpan } from "../observability/request-id.js";
import type { RateLimits } from "./hardening.js";

export interface AuthorizeAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The connection a request came over: its peer address and X-Forwarded-For (client-address.ts). */
export interface Transport {
  peer: string | undefined;
  forwardedFor: string | null | undefined;
}

/** POST /v1/authorize, independent of the HTTP layer: the credential header, a body reader, the request's id and its transport in, an answer out. */
export type AuthorizeEndpoint = (authorization: string | null, readBody: () => Promise<unknown>, requestId: string, transport: Transport) => Promise<AuthorizeAnswer>;

/**
 * 200 allowed, 403 denied (code IP_NOT_ALLOWED: an IP allowlist), 400 malformed, 401 bad
 * credentials, 429 too many (this process's abuse limit, or a team's or key's rate limit or
 * budget: `code` says which), 503 SpiceDB or the limits' counters unavailable.
 */
export function createAuthorizeEndpoint(deps: AppDeps, jwt: JwtVerifier | undefined, limits: RateLimits): AuthorizeEndpoint {
  const trustedProxies = trustedProxyList(deps.config.trustedProxies);
  return async (authorization, readBody, requestId, transport) => {
    if (deps.lifecycle.failed) return { status: 503, body: { allowed: false, reason: "Authorization is unavailable" } };
    const requestDeps = forRequest(deps, requestId);
    try {
      const { principal, authz } = await authenticateRequest(requestDeps, jwt, authorization);
      if (!principal) return { status: 401, body: { allowed: false, reason: "Missing credentials" } };
      const retryAfter = await limits.decision(keyIdOf(principal) ?? principal.id);
      if (retryAfter > 0) return { status: 429, body: { allowed: false, reason: "Too many requests" }, headers: { "Retry-After": String(retryAfter) } };
      let body: unknown;
      try {
        body = await readBody();
      } catch (error) {
        if (error instanceof BodyTooLarge) return { status: 413, body: { error: error.message } };
        return { status: 400, body: { error: "The body must be JSON" } };
      }
      const request = parseAuthorizeRequest(body);
      // Stage 1, IP allowlists (ip-allowlist-stage.ts): the end client's address, else the HTTP client's.
      const clientIp = decisionClientIp(request.clientIp, transport.peer, transport.forwardedFor, trustedProxies);
      const decision = await decide(requestDeps, locate(requestDeps, authz, principal, clientIp, requestId), principal, request);
      await recordRefusedDecision(requestDeps, principal, decision, { clientIp, team: request.team, requestId });
      return { status: decision.allowed ? 200 : 403, body: decision };
    } catch (error) {
      if (error instanceof AuthenticationError) return { status: 401, body: { allowed: false, reason: error.message } };
      if (error instanceof BadAuthorizeRequest || error instanceof UntrustedClientIp) return { status: 400, body: { error: error.message } };
      if (error instanceof LimitRefusal) return { status: 429, body: { allowed: false, reason: error.reason, code: error.code }, headers: { "Retry-After": String(error.retryAfter) } };
      if (error instanceof LimitsUnavailable) return { status: 503, body: { allowed: false, reason: error.message, code: "LIMITS_UNAVAILABLE" } };
      if (errorCode(error) === "AUTHZ_UNAVAILABLE") return { status: 503, body: { allowed: false, reason: "Authorization is unavailable" } };
      requestDeps.logger.error({ err: error }, "authorize failed");
      return { status: 500, body: { allowed: false, reason: "Internal error" } };
    }
  };
}

export class BodyTooLarge extends Error {}

/**
 * The HTTP server's listener. The gateway asks /v1/authorize on every model call, so that
 * path is answered straight from Node's request (measured: the fetch-API adapter was more
 * than half of a cached decision's cost); everything else goes to yoga.
 */
export function createHttpListener(yoga: RequestListener, authorize: AuthorizeEndpoint, maxBodyBytes: number): RequestListener {
  return (req, res) => {
    if (req.method !== "POST" || (req.url !== "/v1/authorize" && !req.url?.startsWith("/v1/authorize?"))) return yoga(req, res);
    // What yoga's useRequestId does for every other request.
    const header = req.headers["x-request-id"];
    const requestId = requestIdFrom(typeof header === "string" ? header : undefined);
    tagServerSpan(requestId);
    res.setHeader("x-request-id", requestId);
    const forwarded = req.headers["x-forwarded-for"];
    const transport = { peer: req.socket.remoteAddress, forwardedFor: Array.isArray(forwarded) ? forwarded.join(",") : forwarded };
    authorize(req.headers.authorization ?? null, () => readJson(req, maxBodyBytes), requestId, transport).then(
      (answer) => send(res, answer),
      () => send(res, { status: 500, body: { allowed: false, reason: "Internal error" } }),
    );
  };
}

/** The body as JSON, refused past `maxBytes` whether or not a content-length announced it. */
export function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > maxBytes) return reject(new BodyTooLarge(`The request body is over ${maxBytes} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return chunks.push(chunk);
      // Stop keeping it; the rest flows away unread (bounded by the server's request
      // timeout), so the client still receives the 413 instead of a reset connection.
      req.off("data", collect);
      chunks.length = 0;
      reject(new BodyTooLarge(`The request body is over ${maxBytes} bytes`));
    };
    req.on("data", collect);
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (error) {
        reject(error);
      }
    });
    req.on("error", reject);
  });
}

function send(res: ServerResponse, answer: AuthorizeAnswer): void {
  res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8", ...answer.headers });
  res.end(JSON.stringify(answer.body));
}
