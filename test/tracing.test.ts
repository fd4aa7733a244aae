import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../src/auth/secrets.js";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";
import { descendsFrom, startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from "./helpers/otlp-receiver.js";
import { runScript, startServer, type ServerProcess } from "./helpers/process.js";

/**
 * Issue 15: the real server (`npm start`) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an
 * OTLP/HTTP receiver in this test; the spans of the http and pg instrumentations, of the
 * GraphQL operation, of SpiceDB and of PGlite's statements really arrive, one trace per
 * request. The log lines are the server's own stdout. Without the variable, nothing is exported.
 */
const usingPostgres = Boolean(process.env.DATABASE_URL);
let database: TestDatabase;
let env: Record<string, string>;
let bootstrap: { organizationId: string; userId: string; apiKey: string };
let identityProvider: Server;
let jwt: string;

const SERVER = 2;
const CLIENT = 3;

beforeAll(async () => {
  database = await createTestDatabase();
  env = { ORGRAPH_DATA_DIR: database.dataDir, DATABASE_URL: database.databaseUrl ?? "" };
  const result = await runScript("bootstrap", ["--org", "Traced", "--email", "tracer@acme.test"], env);
  expect(result.code).toBe(0);
  bootstrap = JSON.parse(result.stdout.trim());
  // An identity provider whose keys cannot be fetched: a request with a token is then logged
  // (and answered 503) while it is served, which is the log line these tests read.
  identityProvider = createServer((_req, res) => res.writeHead(500).end("down"));
  await new Promise<void>((resolve) => identityProvider.listen(0, "127.0.0.1", resolve));
  env = {
    ...env,
    JWT_ISSUER: "https://idp.test/",
    JWT_AUDIENCE: "orgraph",
    JWT_JWKS_URL: `http://127.0.0.1:${(identityProvider.address() as AddressInfo).port}/jwks.json`,
  };
  const { privateKey } = await generateKeyPair("ES256");
  jwt = await new SignJWT({ email: "someone@acme.test", email_verified: true })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setSubject("someone")
    .setIssuer("https://idp.test/")
    .setAudience("orgraph")
    .setExpirationTime("5m")
    .sign(privateKey);
});
afterAll(async () => {
  identityProvider?.close();
  await database?.drop();
});

/** The server's JSON log lines so far. */
const logLines = (server: ServerProcess): Record<string, unknown>[] =>
  server
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));

/** The first log line matching `match`, once the server has written it (its stdout is read asynchronously). */
async function logLine(server: ServerProcess, match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const line = logLines(server).find(match);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no such log line in:\n${server.output()}`);
}

const post = (server: ServerProcess, path: string, credential: string, body: unknown, requestId?: string) =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${credential}`, ...(requestId ? { "x-request-id": requestId } : {}) },
    body: JSON.stringify(body),
  });

const JWKS_DOWN = "the issuer's keys (JWKS) could not be fetched: OIDC tokens cannot be verified";

describe("with OTEL_EXPORTER_OTLP_ENDPOINT: one trace per request, exported over OTLP/HTTP", () => {
  let receiver: OtlpReceiver;
  let server: ServerProcess;
  let teamId: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    server = await startServer({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "100" });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  /** The HTTP server span of the request to `path` sent with `requestId`, once exported, and its trace. */
  async function exportedTrace(path: string, requestId: string): Promise<{ root: ExportedSpan; trace: ExportedSpan[] }> {
    const root = await receiver.waitFor((spans) => spans.find((s) => s.kind === SERVER && s.attributes["orgraph.request_id"] === requestId));
    expect(root.attributes["url.path"]).toBe(path);
    // The children end before their parent, so they are exported with it or before it.
    return { root, trace: receiver.spans.filter((s) => s.traceId === root.traceId) };
  }

  it("a GraphQL query is one trace: the HTTP server span, the operation, SpiceDB and SQL beneath it", async () => {
    const response = await post(
      server,
      "/graphql",
      bootstrap.apiKey,
      { query: `query TracedOrganization($id: ID!) { organization(id: $id) { name defaultTeam { id } } }`, variables: { id: bootstrap.organizationId } },
      "graphql-request-1",
    );
    const body = await response.json();
    expect(body.data.organization.name).toBe("Traced");
    teamId = body.data.organization.defaultTeam.id;
    expect(response.headers.get("x-request-id")).toBe("graphql-request-1");

    const { root, trace } = await exportedTrace("/graphql", "graphql-request-1");
    expect(root.scope).toBe("@opentelemetry/instrumentation-http");
    expect(root.parentSpanId).toBeUndefined();
    expect(trace.filter((s) => s.kind === SERVER)).toEqual([root]);
    // One tree: every other span's parent is in the trace.
    const ids = new Set(trace.map((s) => s.spanId));
    for (const span of trace) if (span !== root) expect(ids.has(span.parentSpanId!), `${span.name} has a parent in the trace`).toBe(true);

    const operation = trace.find((s) => s.scope === "orgraph" && s.name === "query TracedOrganization")!;
    expect(operation).toBeDefined();
    expect(operation.parentSpanId).toBe(root.spanId);
    expect(operation.attributes).toMatchObject({ "graphql.operation.type": "query", "graphql.operation.name": "TracedOrganization" });

    const spicedb = trace.filter((s) => s.name === "SpiceDB CheckBulkPermissions");
    expect(spicedb.length).toBeGreaterThan(0);
    for (const span of spicedb) {
      expect(span.kind).toBe(CLIENT);
      expect(descendsFrom(trace, span, operation)).toBe(true);
      expect(span.attributes["spicedb.items"]).toBeGreaterThan(0);
      expect(typeof span.attributes["spicedb.allowed"]).toBe("number");
    }

    const sql = sqlSpans(trace);
    expect(sql.length).toBeGreaterThan(0);
    for (const span of sql) expect(descendsFrom(trace, span, operation)).toBe(true);
    expect(sql.some((s) => /\bfrom "organizations"/.test(String(s.attributes["db.query.text"])))).toBe(true);
  });

  /** The SQL statements' spans: the pg instrumentation's on a Postgres server, query-spans.ts' on PGlite. */
  function sqlSpans(trace: ExportedSpan[]): ExportedSpan[] {
    const sql = trace.filter((s) => typeof s.attributes["db.query.text"] === "string");
    for (const span of sql) {
      expect(span.scope).toBe(usingPostgres ? "@opentelemetry/instrumentation-pg" : "orgraph");
      expect(span.name).toMatch(usingPostgres ? /^pg\.query:[A-Z]+/ : /^pglite\.query:[A-Z]+$/);
      expect(span.attributes["db.system.name"]).toBe("postgresql");
    }
    return sql;
  }

  it("the gateway's POST /v1/authorize (answered without yoga) is one trace too, with its SpiceDB and SQL spans", async () => {
    const question = { action: "model:invoke", team: teamId, model: "llama", environment: "prod" };
    const response = await post(server, "/v1/authorize", bootstrap.apiKey, question, "gateway-request-1");
    expect(response.status).toBe(403);
    expect(response.headers.get("x-request-id")).toBe("gateway-request-1");

    const { root, trace } = await exportedTrace("/v1/authorize", "gateway-request-1");
    expect(root.parentSpanId).toBeUndefined();
    expect(trace.filter((s) => s.kind === SERVER)).toEqual([root]);
    const spicedb = trace.find((s) => s.name === "SpiceDB CheckBulkPermissions")!;
    expect(spicedb.parentSpanId).toBe(root.spanId);
    // The model and environment permissions, whether the team, model and environment are visible, and the IP allowlists' team#ip_refused.
    expect(spicedb.attributes["spicedb.items"]).toBe(6);
    const sql = sqlSpans(trace);
    expect(sql.some((s) => /\bfrom "teams"/.test(String(s.attributes["db.query.text"])))).toBe(true);
    for (const span of sql) expect(descendsFrom(trace, span, root)).toBe(true);
    // And not the GraphQL request's trace.
    expect(receiver.spans.find((s) => s.attributes["orgraph.request_id"] === "graphql-request-1")!.traceId).not.toBe(root.traceId);
  });

  it("no span records a secret, a key hash, an email, an id or a query string's values", async () => {
    const document = `query($id: ID!) { organization(id: $id) { name } }`;
    const query = new URLSearchParams({ query: document, variables: JSON.stringify({ id: bootstrap.organizationId }) });
    const response = await fetch(`${server.url}/graphql?${query}`, {
      headers: { authorization: `Bearer ${bootstrap.apiKey}`, accept: "application/json", "x-request-id": "get-request-1" },
    });
    expect((await response.json()).data.organization.name).toBe("Traced");
    const { root } = await exportedTrace("/graphql", "get-request-1");
    expect(root.attributes["url.query"]).toBe("query=REDACTED&variables=REDACTED");

    // Everything received so far: the requests above, and whatever else was exported.
    const exported = JSON.stringify(receiver.spans);
    for (const value of [bootstrap.apiKey, hashSecret(bootstrap.apiKey), "tracer@acme.test", bootstrap.organizationId, bootstrap.userId, teamId]) {
      expect(exported).not.toContain(value);
    }
    // Statements are exported with their placeholders.
    expect(sqlSpans(receiver.spans).some((s) => /\$1/.test(String(s.attributes["db.query.text"])))).toBe(true);
  });

  it("a log line written while serving a request carries the request's id and the trace and span ids of its spans", async () => {
    const graphql = await post(server, "/graphql", jwt, { query: `{ viewer { user { email } } }` }, "logged-graphql-1");
    expect(graphql.status).toBe(503);
    const gateway = await post(server, "/v1/authorize", jwt, { action: "model:invoke", team: teamId, model: "llama", environment: "prod" }, "logged-gateway-1");
    expect(gateway.status).toBe(503);

    for (const [path, requestId] of [["/graphql", "logged-graphql-1"], ["/v1/authorize", "logged-gateway-1"]] as const) {
      const { root, trace } = await exportedTrace(path, requestId);
      const line = await logLine(server, (l) => l.msg === JWKS_DOWN && l.requestId === requestId);
      expect(line.traceId).toBe(root.traceId);
      expect(trace.map((s) => s.spanId)).toContain(line.spanId);
    }
  });

  it("X-Request-Id: a caller's plain id is kept; anything else is replaced by a UUID, in the answer and the log", async () => {
    const junk = `"injected" ${"x".repeat(200)}`;
    const response = await post(server, "/graphql", jwt, { query: `{ viewer { user { email } } }` }, junk);
    const requestId = response.headers.get("x-request-id")!;
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await logLine(server, (l) => l.msg === JWKS_DOWN && l.requestId === requestId);
    expect(server.output()).not.toContain("injected");
  });
});

describe("without OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  let receiver: OtlpReceiver;
  let server: ServerProcess;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    // Where the SDK would send traces if it were started: it must not be.
    server = await startServer({ ...env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "100" });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  it("nothing is exported, and log lines carry the request's id but no trace", async () => {
    const query = await post(server, "/graphql", bootstrap.apiKey, { query: `{ viewer { user { email } } }` }, "untraced-1");
    expect((await query.json()).data.viewer.user.email).toBe("tracer@acme.test");
    expect(query.headers.get("x-request-id")).toBe("untraced-1");
    const logged = await post(server, "/graphql", jwt, { query: `{ viewer { user { email } } }` }, "untraced-2");
    expect(logged.status).toBe(503);

    const line = await logLine(server, (l) => l.msg === JWKS_DOWN);
    expect(line.requestId).toBe("untraced-2");
    expect(line).not.toHaveProperty("traceId");
    expect(line).not.toHaveProperty("spanId");
    // Ten export periods: a started SDK would have sent the spans of both requests by now.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(receiver.requests).toBe(0);
  });
});
