import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthzClient } from "../src/authz/client.js";
import { startTestApp, type SeededMember, type TestApp } from "./helpers/app.js";

/** Counts the SpiceDB calls made while a request is answered. */
class CountingAuthz {
  calls = 0;
  wrap = (inner: AuthzClient): AuthzClient => ({
    writeSchema: (schema) => inner.writeSchema(schema),
    write: (updates) => inner.write(updates),
    checkBulk: (items, consistency) => {
      this.calls++;
      return inner.checkBulk(items, consistency);
    },
    checkWithTrace: (...args) => {
      this.calls++;
      return inner.checkWithTrace(...args);
    },
    lookupResources: (...args) => {
      this.calls++;
      return inner.lookupResources(...args);
    },
    readRelationships: (type) => inner.readRelationships(type),
    close: () => inner.close(),
  });
}

const counter = new CountingAuthz();
let app: TestApp;
let member: SeededMember;
let teamId: string;

beforeAll(async () => {
  app = await startTestApp({ wrapAuthzClient: counter.wrap });
  const org = await app.seed.org();
  teamId = await app.seed.team(org, "Budget");
  for (const name of ["development", "staging", "production"]) {
    await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { createEnvironment(teamId: $t, name: $n, restricted: ${name === "production"}) { id } }`, { t: teamId, n: name });
  }
  // 100 models, each deployed to two environments.
  for (let m = 0; m < 100; m++) {
    for (const environment of ["staging", "production"]) {
      await app.ok(org.admin.key, `mutation($t: ID!, $m: String!, $e: String!) { deployModel(input: { teamId: $t, modelName: $m, environment: $e }) { id } }`, { t: teamId, m: `model-${m}`, e: environment });
    }
  }
  member = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }, { teamId: org.defaultTeamId, role: "VIEWER" }], "budget");
}, 300_000);
afterAll(() => app?.close());

/** Calls made answering `query`; cold (nothing cached: a committed change drops every cached answer) unless told. */
async function roundTrips(query: string, variables: Record<string, unknown> = {}, cache: "cold" | "warm" = "cold") {
  if (cache === "cold") app.orgraph.deps.consistency.changed();
  counter.calls = 0;
  const data = await app.ok(member.key, query, variables);
  return { calls: counter.calls, data };
}

const consolePage = `query($t: ID!, $n: Int!) { team(id: $t) { models(first: $n) { edges { node { id name deployments { version environment { name restricted } } } } } } }`;

describe("SpiceDB round trips per request, whatever the page size", () => {
  it.each([10, 100])("the console's models page of %i costs at most 3", async (size) => {
    const { calls, data } = await roundTrips(consolePage, { t: teamId, n: size });
    expect(data.team.models.edges).toHaveLength(size);
    expect(data.team.models.edges[0].node.deployments).toHaveLength(2);
    expect(calls).toBeLessThanOrEqual(3);
  });

  it("viewer.teams costs at most 2", async () => {
    const { calls, data } = await roundTrips(`{ viewer { teams { id name } } }`);
    expect(data.viewer.teams).toHaveLength(2);
    expect(calls).toBeLessThanOrEqual(2);
  });

  it("asked again with nothing changed, the same page costs none: earlier answers hold under the same stamp", async () => {
    await roundTrips(consolePage, { t: teamId, n: 100 });
    const { calls, data } = await roundTrips(consolePage, { t: teamId, n: 100 }, "warm");
    expect(data.team.models.edges).toHaveLength(100);
    expect(calls).toBe(0);
  });
});
