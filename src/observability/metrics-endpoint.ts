import { createHash, timingSafeEqual } from "node:crypto";
import type { AppDeps } from "../context.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/** Whether `header` is `Bearer <token>`, compared in constant time (hashes are of equal length whatever was sent). */
function bearerMatches(header: string | null, token: string): boolean {
  const sent = (header && /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]) || "";
  return timingSafeEqual(sha256(sent), sha256(token));
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/i;
/** Headers a proxy adds for its client; any of them means the request came through one. */
const FORWARDING_HEADERS = ["x-forwarded-for", "forwarded", "x-real-ip", "via", "x-forwarded-host", "x-forwarded-proto", "x-client-ip", "true-client-ip", "cf-connecting-ip", "x-original-forwarded-for"];

/**
 * Without METRICS_TOKEN, /metrics answers only a scraper on this host: a loopback peer whose
 * request no proxy forwarded. The metrics say how the platform is used (operation names of
 * every tenant, decision counts), which is nothing to show whoever reaches the port; a proxy
 * on the same host that forwards public traffic usually says so in a header, refused too.
 * One that adds none (nginx's bare proxy_pass, socat) cannot be told from a local scraper:
 * the README says to set METRICS_TOKEN then.
 * Outside the Node listener (no peer known) it is refused: closed by default.
 */
function fromThisHost(request: Request, serverContext: Record<string, unknown>): boolean {
  const peer = (serverContext.req as { socket?: { remoteAddress?: string } } | undefined)?.socket?.remoteAddress;
  return Boolean(peer && LOOPBACK.test(peer)) && FORWARDING_HEADERS.every((name) => !request.headers.has(name));
}

/**
 * GET /metrics in Prometheus's text format. With METRICS_TOKEN set, only `Authorization: Bearer
 * <METRICS_TOKEN>` is served; anything else gets the same bare 401, before any metric is read.
 * Without it, only a scraper on this host (fromThisHost); others get 403 saying what to set.
 */
export async function metricsResponse(deps: AppDeps, request: Request, serverContext: Record<string, unknown>): Promise<Response> {
  if (request.method !== "GET") return new Response("Use GET\n", { status: 405, headers: { allow: "GET" } });
  const token = deps.config.metricsToken;
  if (token && !bearerMatches(request.headers.get("authorization"), token)) {
    return new Response("Unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } });
  }
  if (!token && !fromThisHost(request, serverContext)) {
    return new Response("Set METRICS_TOKEN to scrape /metrics from another host\n", { status: 403 });
  }
  return new Response(await deps.metrics.render(), { headers: { "content-type": deps.metrics.contentType } });
}
