import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Red team, issue 13: attacks on the new operations that the issue's own tests did not cover,
 * each failing before its fix.
 */
let app: TestApp;
let org: SeededOrg;
let teamId: string;
let chainId: string;
const cast: Record<string, SeededMember> = {};

const RUN = `mutation($c: ID!) { runChain(id: $c) { id } }`;
const REPORT = `mutation($id: ID!, $s: ChainRunStatus!, $r: JSON) { updateChainRun(id: $id, status: $s, result: $r) { id status } }`;
const createKey = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }`;
const keyScope = `{ viewer { principal { ... on ApiKey { environments { id } models { id } } } } }`;

let counter = 0;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Agents");
  for (const role of ["ADMIN", "MEMBER"] as const) cast[role] = await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase());
  chainId = (await app.ok(org.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "refunds") { id } }`, { t: teamId })).createChain.id;
}, 300_000);
afterAll(() => app?.close());


describe("a deletion never leaves a team key's scope reading as 'every one'", () => {
  it("deleteModel of the one model a key is scoped to is refused, as deleteEnvironment is (ApiKey.models [] means every model)", async () => {
    const model = (await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { createModel(teamId: $t, name: $n) { id } }`, { t: teamId, n: `m-${++counter}` })).createModel.id;
    const key = (await app.ok(org.admin.key, createKey, { i: { name: "scoped", teamId, type: "FULL_ACCESS", modelIds: [model] } })).createApiKey;
    expect((await app.ok(key.secret, keyScope)).viewer.principal.models).toEqual([{ id: model }]);
    const deleted = await app.gql(org.admin.key, `mutation($i: ID!) { deleteModel(id: $i) }`, { i: model });
    // Either refused (as deleteEnvironment refuses) or the key still does not read as unscoped.
    if (!deleted.errors) expect((await app.ok(key.secret, keyScope)).viewer.principal.models).not.toEqual([]);
    else expect(codes(deleted)).toEqual(["CONFLICT"]);
  });
});

describe("deleteEnvironment is no way around the no-escalation rule of lifting a restriction", () => {
  it("a custom role that may not lift production's restriction may not delete it either (a same-name environment comes back unrestricted)", async () => {
    const role = (await app.ok(org.admin.key, `mutation($o: ID!, $p: [String!]!) { createRole(organizationId: $o, name: "env-keeper", permissions: $p) { id } }`, {
      o: org.orgId,
      p: ["team:view", "team:manage_environments"],
    })).createRole.id;
    const keeper = await app.seed.member(org, "MEMBER", [], "env-keeper");
    await app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: teamId, p: keeper.userId });
    const production = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "production", restricted: true) { id } }`, { t: teamId }))
      .createEnvironment.id;
    // Lifting the restriction is a grant to every team writer: refused to whoever lacks team_writer_in_scope.
    expect(codes(await app.gql(keeper.key, `mutation($i: ID!) { setEnvironmentRestricted(id: $i, restricted: false) { id } }`, { i: production }))).toEqual(["FORBIDDEN"]);
    // Deleting it (it serves nothing yet) and creating "production" again has the same effect.
    expect(codes(await app.gql(keeper.key, `mutation($i: ID!) { deleteEnvironment(id: $i) }`, { i: production }))).toEqual(["FORBIDDEN"]);
  });
});

describe("bounds are in bytes, as documented", () => {
  it("updateChainRun refuses a result over MAX_RESULT_BYTES (256 KiB) of JSON even when it is not ASCII", async () => {
    const runtime = (await app.ok(org.admin.key, createKey, { i: { name: "runtime", teamId, type: "FULL_ACCESS" } })).createApiKey.secret;
    const id = (await app.ok(runtime, RUN, { c: chainId })).runChain.id;
    // 200,000 three-byte characters: 600,000 bytes of JSON, 200,000 UTF-16 code units.
    const result = { summary: "\u5b57".repeat(200_000) };
    expect(Buffer.byteLength(JSON.stringify(result))).toBeGreaterThan(256 * 1024);
    expect(codes(await app.gql(runtime, REPORT, { id, s: "RUNNING", r: result }))).toEqual([
      "BAD_USER_INPUT",
    ]);
  });
});

