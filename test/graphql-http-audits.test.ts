import { auditServer, type AuditResult } from "graphql-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./helpers/app.js";

/**
 * GraphQL over HTTP conformance: every server audit of `graphql-http` (the spec's reference
 * suite, MUST, SHOULD and MAY) against the real Node listener. An audit that is not `ok`
 * (error, warn or notice) fails the test and is named with its reason.
 */
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

const describeFailure = (result: AuditResult) => (result.status === "ok" ? "" : `${result.status}: ${result.name} (${result.id}): ${result.reason}`);

describe("GraphQL over HTTP", () => {
  it("passes every graphql-http server audit over real HTTP", async () => {
    const results = await auditServer({ url: `${await app.httpUrl()}/graphql`, fetchFn: fetch });
    // Guards against an empty run passing vacuously (graphql-http 1.23 has 40-odd audits).
    expect(results.length).toBeGreaterThan(30);
    const failures = results.filter((result) => result.status !== "ok").map(describeFailure);
    expect(failures, failures.join("\n")).toEqual([]);
  });
});
