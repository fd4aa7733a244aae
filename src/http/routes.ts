import type { Plugin } from "graphql-yoga";
import type { JwtVerifier } from "../auth/jwt.js";
import type { AppDeps } from "../context.js";
import { probeDatabase } from "../db/probe.js";
import type { AuthorizeEndpoint } from "./authorize-endpoint.js";
import { AUTHZEN_METADATA_PATH, authzenMetadata, authzenRouteOf, type AuthzenEndpoint } from "./authzen-endpoint.js";
import { auditExportResponse } from "../modules/audit/audit-export.js";
import { chainRunsExportResponse, isChainRunsExportPath } from "./chain-runs-export.js";
import { routeCaller } from "./route-caller.js";
import { clientIpOf, peerOf, trustedProxyList } from "./client-address.js";
import { metricsResponse } from "../observability/metrics-endpoint.js";
import { forRequest, requestIdOf } from "../observability/request-id.js";

/**
 * The non-GraphQL endpoints, as a yoga plugin so that one fetch handler (and `yoga.fetch` in
 * tests) serves everything:
 * - GET /healthz: the process is up;
 * - GET /readyz: Postgres and SpiceDB both answer (503 otherwise, so a load balancer stops
 *   sending traffic here);
 * - POST /v1/authorize: the inference gateway's allow/deny (authorize-endpoint.ts; the HTTP
 *   server answers it without this adapter, this path serves `yoga.fetch`);
 * - GET /v1/audit/export: the organization's audit log as NDJSON, for org ADMINs;
 * - GET /v1/chains/{chainId}/runs/export: a chain's runs with results as NDJSON (chain-runs-export.ts);
 * - GET /metrics: Prometheus metrics (observability/metrics-endpoint.ts; METRICS_TOKEN);
 * - POST /access/v1/evaluation[s]: the OpenID AuthZEN evaluations (authzen-endpoint.ts; the HTTP
 *   server answers them without this adapter), GET /.well-known/authzen-configuration its metadata.
 */
export function useOrgraphRoutes(deps: AppDeps, jwt: JwtVerifier | undefined, authorize: AuthorizeEndpoint, authzen: AuthzenEndpoint): Plugin {
  const trustedProxies = trustedProxyList(deps.config.trustedProxies);
  return {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      const peer = peerOf(serverContext as Record<string, unknown>);
      const clientIp = () => clientIpOf(peer, request.headers.get("x-forwarded-for"), trustedProxies);
      const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
        endResponse(fetchAPI.Response.json(body, { status, headers }));
      if (deps.lifecycle.failed) {
        return json({ status: "failed", reason: deps.lifecycle.failed, errors: [{ message: "This server can no longer serve safely", extensions: { code: "AUTHZ_UNAVAILABLE" } }] }, 503);
      }
      if (url.pathname === "/healthz") {
        json({ status: "ok" });
      } else if (url.pathname === "/readyz") {
        const checks = { postgres: await probe(() => probeDatabase(deps.db)), spicedb: await probe(() => probeSpiceDb(deps)) };
        const ready = checks.postgres && checks.spicedb && !deps.lifecycle.draining;
        json({ status: deps.lifecycle.draining ? "draining" : ready ? "ready" : "unavailable", checks }, ready ? 200 : 503);
      } else if (url.pathname === "/metrics") {
        endResponse(await metricsResponse(deps, request, serverContext));
      } else if (url.pathname === "/v1/audit/export") {
        const caller = await routeCaller(forRequest(deps, requestIdOf(request)), jwt, request, clientIp());
        endResponse(caller instanceof Response ? caller : await auditExportResponse(deps.db, caller.authz, caller.principal, url));
      } else if (isChainRunsExportPath(url.pathname)) {
        endResponse(await chainRunsExportResponse(forRequest(deps, requestIdOf(request)), jwt, request, url.pathname, clientIp()));
      } else if (url.pathname === AUTHZEN_METADATA_PATH) {
        json(authzenMetadata(deps.config.publicUrl, url.origin));
      } else if (authzenRouteOf(url.pathname)) {
        if (request.method !== "POST") return endResponse(new fetchAPI.Response("Use POST", { status: 405, headers: { "content-type": "text/plain; charset=utf-8" } }));
        const transport = { peer, forwardedFor: request.headers.get("x-forwarded-for") };
        const answer = await authzen(authzenRouteOf(url.pathname)!, request.headers.get("authorization"), () => request.json(), requestIdOf(request), transport);
        const text = typeof answer.body === "string";
        endResponse(new fetchAPI.Response(text ? (answer.body as string) : JSON.stringify(answer.body), {
          status: answer.status,
          headers: { "content-type": text ? "text/plain; charset=utf-8" : "application/json", ...answer.headers },
        }));
      } else if (url.pathname === "/v1/authorize") {
        if (request.method !== "POST") return json({ error: "Use POST" }, 405);
        const answer = await authorize(request.headers.get("authorization"), () => request.json(), requestIdOf(request), { peer, forwardedFor: request.headers.get("x-forwarded-for") });
        json(answer.body, answer.status, answer.headers);
      }
    },
  };
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
