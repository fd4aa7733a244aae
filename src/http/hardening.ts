import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import { GraphQLError, OperationTypeNode, getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Config } from "../config.js";
import type { AppContext } from "../context.js";
import { UNKNOWN_ADDRESS } from "../modules/audit/audit.js";
import type { RateLimitKind } from "../observability/metrics.js";

/**
 * Limits that keep one caller from hurting everyone:
 * - GraphQL documents: depth, aliases, cost, tokens and directives are bounded, and field
 *   suggestions ("did you mean …") are not given (graphql-armor);
 * - introspection can be switched off for production (GRAPHQL_INTROSPECTION=false);
 * - request bodies over MAX_BODY_BYTES are refused (413);
 * - mutations and gateway decisions are rate limited per credential, signed-out mutations per
 *   client address (429 with Retry-After).
 */
export function hardeningPlugins(config: Config, limits: RateLimits): Plugin[] {
  const plugins: Plugin[] = [
    EnvelopArmorPlugin({
      maxDepth: { n: 12 },
      maxAliases: { n: 15 },
      // Measured: the console's heaviest queries (audit log page, models page) cost ~9k by its weighting.
      costLimit: { maxCost: 20_000 },
      maxTokens: { n: 2000 },
      maxDirectives: { n: 20 },
      blockFieldSuggestion: { enabled: true },
    }) as Plugin,
    useBodyLimit(config.limits.maxBodyBytes),
    useMutationRateLimit(limits),
  ];
  if (!config.limits.introspection) plugins.push(useDisableIntrospection());
  return plugins;
}

function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const length = Number(request.headers.get("content-length") ?? 0);
      if (length > maxBytes) {
        endResponse(fetchAPI.Response.json({ errors: [{ message: `The request body is over ${maxBytes} bytes`, extensions: { code: "BAD_USER_INPUT" } }] }, { status: 413 }));
      }
    },
  };
}

/** Token buckets per credential, in memory (per API process). */
export class RateLimits {
  private readonly mutations: RateLimiterMemory;
  private readonly decisions: RateLimiterMemory;

  constructor(
    limits: Config["limits"],
    /** Told of every refusal (GET /metrics counts them). */
    private readonly onRefused: (kind: RateLimitKind) => void,
  ) {
    this.mutations = new RateLimiterMemory({ points: limits.mutationsPerMinute, duration: 60 });
    this.decisions = new RateLimiterMemory({ points: limits.authorizePerSecond, duration: 1 });
  }

  /** Seconds to wait before retrying, or 0 when allowed. */
  mutation = (credential: string) => this.take(this.mutations, credential, "mutation");
  decision = (credential: string) => this.take(this.decisions, credential, "decision");

  private async take(limiter: RateLimiterMemory, credential: string, kind: RateLimitKind): Promise<number> {
    try {
      await limiter.consume(credential);
      return 0;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      this.onRefused(kind);
      return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
    }
  }
}

export const rateLimited = (retryAfter: number) =>
  new GraphQLError("Too many requests: slow down and retry later", {
    extensions: { code: "RATE_LIMITED", http: { status: 429, headers: { "Retry-After": String(retryAfter) } } },
  });

function useMutationRateLimit(limits: RateLimits): Plugin {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== OperationTypeNode.MUTATION) return;
      const ctx = args.contextValue as unknown as AppContext;
      // Per credential; signed-out callers (accepting an invitation) per client address, so one
      // abuser cannot lock out every invitee. Without a peer address (yoga.fetch, no Node
      // listener) they share one bucket.
      const credential = ctx.principal ? `${ctx.principal.kind}:${ctx.principal.id}` : `addr:${ctx.clientAddress ?? UNKNOWN_ADDRESS}`;
      const retryAfter = await limits.mutation(credential);
      if (retryAfter > 0) setResultAndStopExecution({ errors: [rateLimited(retryAfter)] });
    },
  };
}
