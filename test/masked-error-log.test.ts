import { Writable } from "node:stream";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecret } from "../src/auth/secrets.js";
import { createLogger } from "../src/logger.js";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";
import { startOtlpReceiver, type OtlpReceiver } from "./helpers/otlp-receiver.js";

/**
 * Issue 15: the masked error ("Unexpected error." with an errorId) is logged with the same
 * errorId, the request's id and its trace. In process, so that the fault is real: a trigger
 * refuses audit events (as in audit-fail-closed.test.ts), which fails the mutation with an
 * error no spec code covers. The app's logger writes to a stream read here, and an SDK in this
 * process exports to an OTLP/HTTP receiver (the server's own SDK setup is tracing.test.ts').
 */
let receiver: OtlpReceiver;
let sdk: NodeSDK;
let app: TestApp;
let org: SeededOrg;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  process.env.OTEL_BSP_SCHEDULE_DELAY = "100";
  sdk = new NodeSDK({ traceExporter: new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }), metricReaders: [], logRecordProcessors: [] });
  sdk.start();
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  app = await startTestApp({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, logger: createLogger("info", destination) });
  org = await app.seed.org("Faulty");
  const db = app.orgraph.deps.db;
  await sql`create function audit_fault_raise() returns trigger language plpgsql as $$
    begin raise exception 'injected: the audit event cannot be written'; end; $$`.execute(db);
  await sql`create trigger audit_fault before insert on audit_events for each row execute function audit_fault_raise()`.execute(db);
});
afterAll(async () => {
  await app?.close();
  await sdk?.shutdown();
  await receiver?.close();
});

describe("a masked error", () => {
  let traceOfTheError: string;

  it("is logged with its errorId, the request's id and trace; its span is marked failed with the same errorId", async () => {
    const response = await app.http("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${org.admin.key}`, "x-request-id": "masked-1" },
      body: JSON.stringify({ query: `mutation CreateGhost($o: ID!) { createTeam(organizationId: $o, name: "Ghost") { id } }`, variables: { o: org.orgId } }),
    });
    expect(response.headers.get("x-request-id")).toBe("masked-1");
    const body = await response.json();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].message).toBe("Unexpected error.");
    const errorId = body.errors[0].extensions.errorId;
    expect(errorId).toMatch(/^[0-9a-f-]{36}$/);

    const line = lines.find((l) => l.errorId === errorId)!;
    expect(line).toMatchObject({ msg: "unexpected error", requestId: "masked-1", err: { message: expect.stringContaining("injected") } });
    expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);

    const failed = await receiver.waitFor((spans) => spans.find((s) => s.attributes["orgraph.error_id"] === errorId));
    expect(failed.traceId).toBe(line.traceId);
    expect(failed.name).toBe("mutation CreateGhost");
    expect(failed.status.code).toBe(2);
    traceOfTheError = failed.traceId;
  });

  it("failing while authenticating, before any operation runs, it is logged the same way; so is the gateway's", async () => {
    // A key no cache holds, so authenticating reads a table that is gone for the moment.
    const { secret } = generateSecret("ogp");
    const db = app.orgraph.deps.db;
    await sql`alter table api_keys rename to api_keys_away`.execute(db);
    let graphql: Response;
    let gateway: Response;
    try {
      const headers = (requestId: string) => ({ "content-type": "application/json", authorization: `Bearer ${secret}`, "x-request-id": requestId });
      graphql = await app.http("/graphql", { method: "POST", headers: headers("masked-2"), body: JSON.stringify({ query: `{ viewer { user { id } } }` }) });
      gateway = await app.http("/v1/authorize", { method: "POST", headers: headers("masked-3"), body: JSON.stringify({ action: "model:invoke", model: "m", environment: "prod" }) });
    } finally {
      await sql`alter table api_keys_away rename to api_keys`.execute(db);
    }
    const errors = (await graphql.json()).errors;
    expect(errors).toMatchObject([{ message: "Unexpected error.", extensions: { code: "INTERNAL_SERVER_ERROR" } }]);
    expect(lines.find((l) => l.errorId === errors[0].extensions.errorId)).toMatchObject({ msg: "unexpected error", requestId: "masked-2" });
    expect(gateway.status).toBe(500);
    expect(gateway.headers.get("x-request-id")).toBe("masked-3");
    expect(lines.find((l) => l.requestId === "masked-3")).toMatchObject({ msg: "authorize failed", err: { message: expect.stringContaining("api_keys") } });
  });

  // On a Postgres server the statements' spans are the pg instrumentation's, which this
  // process does not load (tracing.test.ts covers them in the server).
  it.skipIf(Boolean(process.env.DATABASE_URL))("on PGlite, the statement that failed is a failed span in that trace, with Postgres' code and not its message (PGlite run only)", async () => {
    const insert = await receiver.waitFor((spans) =>
      spans.find((s) => s.traceId === traceOfTheError && /insert into "audit_events"/.test(String(s.attributes["db.query.text"]))),
    );
    expect(insert.status.code).toBe(2);
    expect(insert.attributes["error.type"]).toBe("P0001");
    expect(JSON.stringify(insert)).not.toContain("injected");
  });
});
