import { randomUUID } from "node:crypto";
import type { RequestListener } from "node:http";
import { GraphQLError } from "graphql";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import { AuthenticationError, authenticateRequest } from "./auth/authenticate.js";
import type { JwtVerifier } from "./auth/jwt.js";
import type { AppContext, AppDeps } from "./context.js";
import { SPEC_CODES, unauthenticated } from "./errors.js";
import { createLoaders } from "./graphql/loaders.js";
import { schema } from "./graphql/schema.js";
import { clientAddressOf, trustedProxyList } from "./http/client-address.js";
import { useOfflineGraphiQL } from "./http/graphiql.js";
import { hardeningPlugins, RateLimits } from "./http/hardening.js";
import { asBadUserInput, useBadUserInputCodes } from "./http/input-errors.js";
import { useOrgraphRoutes } from "./http/routes.js";
import { createAuthorizeEndpoint, createHttpListener, type AuthorizeEndpoint } from "./http/authorize-endpoint.js";
import { instrumentListener, useGraphQLMetrics } from "./observability/http-metrics.js";

interface GraphQLErrorShape {
  name?: string;
  extensions?: Record<string, unknown>;
  originalError?: unknown;
}

const isGraphQLErrorShape = (value: unknown) => (value as GraphQLErrorShape | undefined)?.name === "GraphQLError";

/** Yoga, plus the authorize endpoint for the HTTP server's fast path (authorize-endpoint.ts). */
export type App = YogaServerInstance<Record<string, unknown>, AppContext> & { authorize: AuthorizeEndpoint };

/** The whole HTTP surface as one fetch handler: GraphQL at /graphql plus the routes plugin. */
export function createApp(deps: AppDeps, options: { jwt?: JwtVerifier } = {}): App {
  const limits = new RateLimits(deps.config.limits, (kind) => deps.metrics.countRateLimited(kind));
  const authorize = createAuthorizeEndpoint(deps, options.jwt, limits);
  const trustedProxies = trustedProxyList(deps.config.trustedProxies);
  const yoga = createYoga<Record<string, unknown>, AppContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // Yoga's own GraphiQL loads its scripts from a CDN: graphiql.ts serves an offline one.
    graphiql: false,
    logging: false,
    plugins: [useOrgraphRoutes(deps, options.jwt, authorize), useOfflineGraphiQL(), useGraphQLMetrics(deps.metrics), ...hardeningPlugins(deps.config, limits), useBadUserInputCodes()],
    // Served by the Node listener, the server context carries Node's `req` (its peer address).
    context: async ({ request, ...serverContext }): Promise<AppContext> => {
      const requestId = request.headers.get("x-request-id") ?? randomUUID();
      const logger = deps.logger.child({ requestId });
      let caller;
      try {
        caller = await authenticateRequest(deps, options.jwt, request.headers.get("authorization"));
      } catch (error) {
        if (error instanceof AuthenticationError) throw unauthenticated(error.message);
        throw error;
      }
      const { principal, authz } = caller;
      const clientAddress = clientAddressOf(serverContext, request.headers.get("x-forwarded-for"), trustedProxies);
      return { deps, db: deps.db, requestId, clientAddress, principal, authz, loaders: createLoaders(deps.db), logger };
    },
    maskedErrors: {
      // Expected failures carry one of the spec's codes and pass through. GraphQL's own
      // complaints about the request (syntax, validation, variable values) are the caller's
      // input: BAD_USER_INPUT. Anything else is logged and reaches the caller as
      // "Unexpected error." with an id to find it in the log. (Checked by shape, not with
      // instanceof, which breaks when the graphql package is loaded twice.)
      maskError: (error, message) => {
        const graphQLError = error as GraphQLErrorShape;
        const code = graphQLError.extensions?.code;
        if (typeof code === "string" && SPEC_CODES.has(code)) return error as Error;
        if (graphQLError.name === "GraphQLError" && (!graphQLError.originalError || isGraphQLErrorShape(graphQLError.originalError))) {
          return asBadUserInput(error as GraphQLError);
        }
        const errorId = randomUUID();
        deps.logger.error({ err: graphQLError.originalError ?? error, errorId }, "unexpected error");
        return new GraphQLError(message, { extensions: { code: "INTERNAL_SERVER_ERROR", errorId } });
      },
    },
  });
  return Object.assign(yoga, { authorize });
}

/** The Node HTTP listener for `app` (the server and the benchmark use it). */
export const httpListener = (app: App, deps: AppDeps): RequestListener =>
  instrumentListener(createHttpListener(app, app.authorize, deps.config.limits.maxBodyBytes), deps.metrics);
