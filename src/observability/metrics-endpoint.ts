import { createHash, timingSafeEqual } from "node:crypto";
import type { AppDeps } from "../context.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/** Whether `header` is `Bearer <token>`, compared in constant time (hashes are of equal length whatever was sent). */
function bearerMatches(header: string | null, token: string): boolean {
  const sent = (header && /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]) || "";
  return timingSafeEqual(sha256(sent), sha256(token));
}

/**
 * GET /metrics in Prometheus's text format. With METRICS_TOKEN set, only `Authorization: Bearer
 * <METRICS_TOKEN>` is served; anything else gets the same bare 401, before any metric is read.
 * Without it the route is open: it belongs on an internal network.
 */
export async function metricsResponse(deps: AppDeps, request: Request): Promise<Response> {
  if (request.method !== "GET") return new Response("Use GET\n", { status: 405, headers: { allow: "GET" } });
  const token = deps.config.metricsToken;
  if (token && !bearerMatches(request.headers.get("authorization"), token)) {
    return new Response("Unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } });
  }
  return new Response(await deps.metrics.render(), { headers: { "content-type": deps.metrics.contentType } });
}
