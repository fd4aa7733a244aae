import { createServer, type RequestListener, type Server } from "node:http";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import { AuthenticationError, authenticateRequest, IpNotAllowedError } from "./auth/authenticate.js";
import type { JwtVerifier } from "./auth/jwt.js";
import type { AppContext, AppDeps } from "./context.js";
import { ipNotAllowedAtEntry, unauthenticated } from "./errors.js";
import { createLoaders } from "./graphql/loaders.js";
import { schema } from "./graphql/schema.js";
import { clientAddressOf, clientIpOf, peerOf, trustedProxyList } from "./http/client-address.js";
import { Admission, useAdmittedGraphQL } from "./http/admission.js";
import { withGraphqlAdmission } from "./http/admission-listener.js";
import { useOfflineGraphiQL } from "./http/graphiql.js";
import { hardeningPlugins, RateLimits } from "./http/hardening.js";
import { useBadUserInputCodes } from "./http/input-errors.js";
import { maskError, useMaskedOperationErrors } from "./http/masked-errors.js";
import { useOrgraphRoutes } from "./http/routes.js";
import { createAuthorizeEndpoint, createHttpListener, type AuthorizeEndpoint } from "./http/authorize-endpoint.js";
import { createAuthzenEndpoint, withAuthzenRoutes, type AuthzenEndpoint } from "./http/authzen-endpoint.js";
import { instrumentListener, useGraphQLMetrics } from "./observability/http-metrics.js";
import { useOperationSpans } from "./observability/operation-spans.js";
import { forRequest, requestIdOf, useRequestId } from "./observability/request-id.js";

/** Yoga, plus the authorize and AuthZEN endpoints for the HTTP server's fast path (authorize-endpoint.ts, authzen-endpoint.ts). */
export type App = YogaServerInstance<Record<string, unknown>, AppContext> & { authorize: AuthorizeEndpoint; authzen: AuthzenEndpoint; admission: Admission };

/** The whole HTTP surface as one fetch handler: GraphQL at /graphql plus the routes plugin. */
export function createApp(deps: AppDeps, options: { jwt?: JwtVerifier } = {}): App {
  const limits = new RateLimits(deps.config.limits, (kind) => deps.metrics.countRateLimited(kind));
  const authorize = createAuthorizeEndpoint(deps, options.jwt, limits);
  const authzen = createAuthzenEndpoint(deps, options.jwt, limits);
  const trustedProxies = trustedProxyList(deps.config.trustedProxies);
  const admission = new Admission(deps.config.admission, (reason) => deps.metrics.countShed(reason));
  const yoga = createYoga<Record<string, unknown>, AppContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // Yoga's own GraphiQL loads its scripts from a CDN: graphiql.ts serves an offline one.
    graphiql: false,
    logging: false,
    plugins: [
      useRequestId(),
      ...(deps.config.tracing ? [useOperationSpans()] : []),
      useOrgraphRoutes(deps, options.jwt, authorize, authzen),
      useOfflineGraphiQL(),
      // After every route that is not GraphQL: what reaches it is GraphQL, admitted (admission.ts).
      useAdmittedGraphQL(admission),
      useGraphQLMetrics(deps.metrics),
      ...hardeningPlugins(deps.config, limits),
      useBadUserInputCodes(),
      useMaskedOperationErrors(),
    ],
    // Served by the Node listener, the server context carries Node's `req` (its peer address).
    context: async ({ request, ...serverContext }): Promise<AppContext> => {
      const requestId = requestIdOf(request);
      // Everything the request does logs on its own logger (request-id.ts).
      const requestDeps = forRequest(deps, requestId);
      // The exact address for the IP allowlists; the bucketed one for rate limits and the security log.
      const clientIp = clientIpOf(peerOf(serverContext), request.headers.get("x-forwarded-for"), trustedProxies);
      let caller;
      try {
        caller = await authenticateRequest(requestDeps, options.jwt, request.headers.get("authorization"), { clientIp, requestId, via: "graphql" });
      } catch (error) {
        if (error instanceof AuthenticationError) throw unauthenticated(error.message);
        // HTTP 403, as an AuthenticationError is a 401: the key is refused whatever it asks.
        if (error instanceof IpNotAllowedError) throw ipNotAllowedAtEntry();
        throw maskError(error, requestDeps.logger);
      }
      const { principal, authz } = caller;
      const clientAddress = clientAddressOf(serverContext, request.headers.get("x-forwarded-for"), trustedProxies);
      return { deps: requestDeps, db: deps.db, requestId, clientAddress, principal, authz, loaders: createLoaders(deps.db), logger: requestDeps.logger };
    },
    // What fails outside an operation's execution (useMaskedOperationErrors masks the rest).
    maskedErrors: { maskError: (error) => maskError(error, deps.logger) },
  });
  return Object.assign(yoga, { authorize, authzen, admission });
}

/**
 * The Node HTTP listener for `app` (the server and the benchmark use it): the gateway's and
 * AuthZEN's fast paths, then GraphQL behind its admission gate (the other routes pass it).
 */
export const httpListener = (app: App, deps: AppDeps): RequestListener => {
  const maxBody = deps.config.limits.maxBodyBytes;
  const graphql = withGraphqlAdmission(app as unknown as RequestListener, app.admission, { maxBodyBytes: maxBody, trustedProxies: trustedProxyList(deps.config.trustedProxies) });
  return instrumentListener(withAuthzenRoutes(createHttpListener(graphql, app.authorize, maxBody), app.authzen, maxBody), deps.metrics);
};

/**
 * The HTTP server for `app`, with Node's timeouts for slow clients: headers within
 * HTTP_HEADERS_TIMEOUT_MS, the whole request within HTTP_REQUEST_TIMEOUT_MS (checked every
 * second, not Node's default 30; config.ts keeps both timeouts at a second or more), so a connection trickling its request in is cut off (408).
 */
export function createHttpServer(app: App, deps: AppDeps): Server {
  const { headersTimeoutMs, requestTimeoutMs } = deps.config.http;
  return createServer({ headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: 1000 }, httpListener(app, deps));
}
