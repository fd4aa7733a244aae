import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 13: Chain.runs reads the latest runs newest first, capped; Chain.versions lists every
 * definition with who changed it and when (Mentiko: "diff configurations over time"), secret
 * names nulled exactly as Chain.definition nulls them.
 */
let app: TestApp;
let org: SeededOrg;
let teamId: string;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Agents");
  await app.ok(org.admin.key, `mutation($t: ID!) { setSecret(teamId: $t, name: "API_TOKEN", value: "v") { name } }`, { t: teamId });
});
afterAll(() => app?.close());

const createChain = async (name: string, definition: unknown) =>
  (await app.ok(org.admin.key, `mutation($t: ID!, $n: String!, $d: JSON) { createChain(teamId: $t, name: $n, definition: $d) { id } }`, { t: teamId, n: name, d: definition })).createChain.id as string;

describe("Chain.runs", () => {
  it("lists the latest runs newest first: 50 by default, `first` of them up to 200", async () => {
    const chain = await createChain("busy", null);
    const started: string[] = [];
    for (let i = 0; i < 53; i++) started.push((await app.ok(org.admin.key, `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chain })).runChain.id);
    const runs = async (first?: number) =>
      (await app.ok(org.admin.key, `query($c: ID!, $f: Int) { node(id: $c) { ... on Chain { runs(first: $f) { id } } } }`, { c: chain, f: first })).node.runs.map((r: { id: string }) => r.id);
    const newestFirst = [...started].reverse();
    expect(await runs()).toEqual(newestFirst.slice(0, 50));
    expect(await runs(3)).toEqual(newestFirst.slice(0, 3));
    expect(await runs(200)).toEqual(newestFirst);
    for (const bad of [0, 201, -1]) {
      const result = await app.gql(org.admin.key, `query($c: ID!, $f: Int) { node(id: $c) { ... on Chain { runs(first: $f) { id } } } }`, { c: chain, f: bad });
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    }
  });
});

describe("Chain.versions", () => {
  const definitionV1 = { steps: [{ call: "llm", auth: { $secret: "API_TOKEN" } }] };
  const definitionV2 = { steps: [{ call: "llm", auth: { $secret: "API_TOKEN" } }, { call: "email" }] };
  const versionsOf = `query($c: ID!) { node(id: $c) { ... on Chain { versions { version definition changedBy { id } createdAt } } } }`;

  it("createChain writes version 1 and each updateChain the next, with who changed it, newest first", async () => {
    const chain = await createChain("versioned", definitionV1);
    const editor = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], "editor");
    await app.ok(editor.key, `mutation($c: ID!, $d: JSON!) { updateChain(id: $c, definition: $d) { id } }`, { c: chain, d: definitionV2 });
    const versions = (await app.ok(org.admin.key, versionsOf, { c: chain })).node.versions;
    expect(versions).toEqual([
      { version: 2, definition: definitionV2, changedBy: { id: editor.userId }, createdAt: expect.any(String) },
      { version: 1, definition: definitionV1, changedBy: { id: org.admin.userId }, createdAt: expect.any(String) },
    ]);
  });

  it("a caller without chain#read_secret_names reads every version with the secret names nulled", async () => {
    const chain = await createChain("secretive", definitionV1);
    await app.ok(org.admin.key, `mutation($c: ID!, $d: JSON!) { updateChain(id: $c, definition: $d) { id } }`, { c: chain, d: definitionV2 });
    const operator = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }], "operator");
    const read = (await app.ok(operator.key, versionsOf, { c: chain })).node.versions;
    expect(read.map((v: { definition: unknown }) => v.definition)).toEqual([
      { steps: [{ call: "llm", auth: { $secret: null } }, { call: "email" }] },
      { steps: [{ call: "llm", auth: { $secret: null } }] },
    ]);
    expect(JSON.stringify(read)).not.toContain("API_TOKEN");
  });

  it("a chain's versions go with it", async () => {
    const chain = await createChain("short-lived", definitionV1);
    await app.ok(org.admin.key, `mutation($c: ID!) { deleteChain(id: $c) }`, { c: chain });
    const left = await app.orgraph.deps.db.selectFrom("chain_versions").selectAll().where("chain_id", "=", chain).execute();
    expect(left).toEqual([]);
  });
});
