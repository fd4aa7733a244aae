import { auditServer, serverAudits } from "graphql-http";
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

describe("GraphQL over HTTP", () => {
  it("passes every graphql-http server audit over real HTTP", async () => {
    const url = `${await app.httpUrl()}/graphql`;
    const results = await auditServer({ url, fetchFn: fetch });
    // Every audit ran (61 in graphql-http 1.23): an empty run must not pass vacuously.
    expect(results.map((result) => result.id)).toEqual(serverAudits({ url }).map((audit) => audit.id));
    expect(results.length).toBeGreaterThan(0);
    const failures = results.flatMap((result) => (result.status === "ok" ? [] : [`${result.status}: ${result.name} (${result.id}): ${result.reason}`]));
    expect(failures, failures.join("\n")).toEqual([]);
  });
});
