import type { RequestListener } from "node:http";
import { performance } from "node:perf_hooks";
import { getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import { isChainRunsExportPath } from "../http/chain-runs-export.js";
import type { AppContext } from "../context.js";
import type { Metrics } from "./metrics.js";

const FIXED_ROUTES = new Set([
  "/graphql", "/v1/authorize", "/v1/audit/export", "/healthz", "/readyz", "/metrics",
  "/access/v1/evaluation", "/access/v1/evaluations", "/.well-known/authzen-configuration",
]);
const METHODS = new Set(["GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"]);

/** The route a URL is served by, as a template: never a raw path (ids, or whatever a caller sends). */
export function routeTemplate(url: string | undefined): string {
  const query = url?.indexOf("?") ?? -1;
  const path = url === undefined ? "" : query >= 0 ? url.slice(0, query) : url;
  if (FIXED_ROUTES.has(path)) return path;
  return isChainRunsExportPath(path) ? "/v1/chains/:id/runs/export" : "other";
}

/**
 * Times every request the Node listener serves, yoga's and the gateway's fast path
 * (authorize-endpoint.ts) alike, until its response is done — or its connection closed first
 * ("aborted"), so that requests a client gave up on are not left out.
 */
export function instrumentListener(listener: RequestListener, metrics: Metrics): RequestListener {
  return (req, res) => {
    const started = performance.now();
    res.once("close", () => {
      const status = res.writableFinished ? String(res.statusCode) : "aborted";
      const method = METHODS.has(req.method ?? "") ? req.method! : "other";
      metrics.observeHttp(routeTemplate(req.url), method, status, (performance.now() - started) / 1000);
    });
    listener(req, res);
  };
}

/**
 * GraphQL operations by name and type (timed from the start of execution to its result), and
 * every error of every response by its code, after masking (so a masked one is
 * INTERNAL_SERVER_ERROR). Listed before the mutation rate limit, whose refusal it then sees.
 */
export function useGraphQLMetrics(metrics: Metrics): Plugin {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      return {
        onExecuteDone() {
          const signedIn = Boolean((args.contextValue as Partial<AppContext>).principal);
          metrics.observeOperation(operation?.name?.value, operation?.operation ?? "(unknown)", signedIn, (performance.now() - started) / 1000);
        },
      };
    },
    onResultProcess({ result }) {
      if (Symbol.asyncIterator in result) return;
      for (const single of Array.isArray(result) ? result : [result]) {
        for (const error of single.errors ?? []) metrics.countGraphQLError(error.extensions?.code);
      }
    },
  };
}
