import type { IncomingMessage } from "node:http";
import { register } from "node:module";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { NodeSDK, resources } from "@opentelemetry/sdk-node";

/**
 * Starts OpenTelemetry tracing (server.ts, when OTEL_EXPORTER_OTLP_ENDPOINT is set), before
 * the app is imported: the instrumentations patch `node:http` and `pg` as they load.
 *
 * The SDK configures itself from the standard variables: OTEL_EXPORTER_OTLP_PROTOCOL
 * (http/protobuf by default, http/json, grpc), OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME
 * (default "orgraph"), OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*. Traces only:
 * no metrics or logs are exported.
 *
 * Spans: the HTTP server span of each request (this instrumentation), and as its children
 * the GraphQL operation (operation-spans.ts), each SpiceDB call (authz-spans.ts) and each SQL
 * statement (the pg instrumentation with DATABASE_URL, query-spans.ts with PGlite).
 */
export function startTracing(): { shutdown(): Promise<void> } {
  // An ESM `import` of node:http is only seen through import-in-the-middle's loader hook.
  // Without it the HTTP server is patched only because some CommonJS dependency happens to
  // require("http") later (today graphql-yoga's build does); pg loads its files with
  // require, which the SDK sees either way. Only the instrumented modules go through the hook.
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url, { data: { include: ["node:http", "http", "pg"] } });
  const sdk = new NodeSDK({
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ "service.name": "orgraph" })),
    instrumentations: [
      new HttpInstrumentation({
        // Probes would be a trace every few seconds, of nothing.
        ignoreIncomingRequestHook: (request) => PROBES.has(pathOf(request)),
        // Orgraph makes no HTTP calls of its own (the exporter's are never traced).
        disableOutgoingRequestInstrumentation: true,
        startIncomingSpanHook: (request) => urlAttributes(request),
      }),
      // Statements outside a request (migrations, background flushes) are not traced; the
      // bound values never are (enhancedDatabaseReporting stays off).
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return sdk;
}

const PROBES = new Set(["/healthz", "/readyz"]);

const pathOf = (request: IncomingMessage) => (request.url ?? "/").split("?", 1)[0]!;

/** An Orgraph id in a path (`/v1/chains/chn_…/runs/export`). */
const ID_SEGMENT = /\/[a-z]+_[0-9a-f]{28}(?=\/|$)/g;

/**
 * url.path and url.query without what a caller put there: ids become `{id}`, and query
 * values (a GET /graphql's document and variables, an export's filters) are redacted.
 */
function urlAttributes(request: IncomingMessage): Record<string, string> {
  const [path = "/", query] = (request.url ?? "/").split(/\?(.*)/s, 2);
  const attributes: Record<string, string> = { "url.path": path.replace(ID_SEGMENT, "/{id}") };
  if (query) attributes["url.query"] = [...new URLSearchParams(query).keys()].map((key) => `${encodeURIComponent(key)}=REDACTED`).join("&");
  return attributes;
}
