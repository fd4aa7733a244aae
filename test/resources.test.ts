import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretContext } from "../src/modules/secret/secret.service.js";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

let app: TestApp;
let org: SeededOrg;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
});
afterAll(() => app?.close());

const createEnv = `mutation($t: ID!, $n: String!, $r: Boolean) { createEnvironment(teamId: $t, name: $n, restricted: $r) { id name restricted } }`;
const deploy = `mutation($t: ID, $m: String!, $e: String!) { deployModel(input: { teamId: $t, modelName: $m, environment: $e }) { id version environment { name } model { id name team { id } } createdBy { id } } }`;

describe("restricted environments (PRODUCT.md §5)", () => {
  let teamId: string;
  let member: SeededMember;
  let viewer: SeededMember;
  let production: string;

  beforeAll(async () => {
    teamId = await app.seed.team(org, "Serving");
    member = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], "deployer");
    viewer = await app.seed.member(org, "MEMBER", [{ teamId, role: "VIEWER" }], "watcher");
    await app.ok(org.admin.key, createEnv, { t: teamId, n: "staging" });
    production = (await app.ok(org.admin.key, createEnv, { t: teamId, n: "production", r: true })).createEnvironment.id;
  });

  it("a MEMBER deploys to staging but not to restricted production; grant → can; revoke → cannot on the very next request", async () => {
    const staging = await app.ok(member.key, deploy, { t: teamId, m: "llama", e: "staging" });
    expect(staging.deployModel).toMatchObject({ version: 1, environment: { name: "staging" }, createdBy: { id: member.userId } });

    expect(codes(await app.gql(member.key, deploy, { t: teamId, m: "llama", e: "production" }))).toEqual(["FORBIDDEN"]);

    await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { grantees { id } } }`, { e: production, p: member.userId });
    expect((await app.ok(member.key, deploy, { t: teamId, m: "llama", e: "production" })).deployModel.version).toBe(1);

    await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { revokeEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: production, p: member.userId });
    expect(codes(await app.gql(member.key, deploy, { t: teamId, m: "llama", e: "production" }))).toEqual(["FORBIDDEN"]);
  });

  it("an org ADMIN always can, without a grant", async () => {
    expect((await app.ok(org.admin.key, deploy, { t: teamId, m: "llama", e: "production" })).deployModel.version).toBe(2);
  });

  it("a team ADMIN manages the grants but is no grantee unless granted", async () => {
    const lead = await app.seed.member(org, "MEMBER", [{ teamId, role: "ADMIN" }], "team-lead");
    expect(codes(await app.gql(lead.key, deploy, { t: teamId, m: "llama", e: "production" }))).toEqual(["FORBIDDEN"]);
    const granted = await app.ok(lead.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { grantees { id } } }`, { e: production, p: lead.userId });
    expect(granted.grantEnvironmentAccess.grantees.map((g: any) => g.id)).toContain(lead.userId);
    expect((await app.ok(lead.key, deploy, { t: teamId, m: "llama", e: "production" })).deployModel.version).toBe(3);
  });

  it("a granted VIEWER still cannot deploy: a grant only lifts the restriction", async () => {
    await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: production, p: viewer.userId });
    expect(codes(await app.gql(viewer.key, deploy, { t: teamId, m: "llama", e: "production" }))).toEqual(["FORBIDDEN"]);
  });

  it("restriction never affects viewing: a VIEWER sees production and its deployment", async () => {
    const data = await app.ok(viewer.key, `query($t: ID!) { team(id: $t) { environments { name restricted } models { edges { node { name deployments { version environment { name restricted } } } } } } }`, { t: teamId });
    expect(data.team.environments).toEqual([{ name: "production", restricted: true }, { name: "staging", restricted: false }]);
    const deployments = data.team.models.edges[0].node.deployments;
    expect(deployments).toContainEqual({ version: 3, environment: { name: "production", restricted: true } });
    const perms = await app.ok(viewer.key, `query($on: ID!) { viewerPermissions(on: $on) }`, { on: production });
    expect(perms.viewerPermissions).toEqual(["environment:view", "metrics:read"]);
  });

  it("lifting the restriction lets every MEMBER deploy again; restricting it again stops them", async () => {
    const other = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], "other-deployer");
    await app.ok(org.admin.key, `mutation($e: ID!) { setEnvironmentRestricted(id: $e, restricted: false) { restricted } }`, { e: production });
    expect((await app.ok(other.key, deploy, { t: teamId, m: "llama", e: "production" })).deployModel.version).toBe(4);
    await app.ok(org.admin.key, `mutation($e: ID!) { setEnvironmentRestricted(id: $e, restricted: true) { restricted } }`, { e: production });
    expect(codes(await app.gql(other.key, deploy, { t: teamId, m: "llama", e: "production" }))).toEqual(["FORBIDDEN"]);
  });

  it("one active deployment per model and environment; versions count up", async () => {
    const data = await app.ok(org.admin.key, `query($t: ID!) { team(id: $t) { models { edges { node { deployments { version environment { name } } } } } } }`, { t: teamId });
    const deployments = data.team.models.edges[0].node.deployments;
    expect(deployments.map((d: any) => d.environment.name).sort()).toEqual(["production", "staging"]);
    expect(deployments.find((d: any) => d.environment.name === "production").version).toBe(4);
  });

  it("deploying into an environment the team does not have is BAD_USER_INPUT", async () => {
    const result = await app.gql(member.key, deploy, { t: teamId, m: "llama", e: "qa" });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors?.[0]?.message).toContain("qa");
  });

  it("grantees must belong to the team's organization (BAD_USER_INPUT)", async () => {
    const stranger = await app.seed.org("Strangers");
    const result = await app.gql(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: production, p: stranger.admin.userId });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("deployModel infers the team when teamId is absent", () => {
  let solo: SeededMember;
  let multi: SeededMember;
  let teamA: string;
  let teamB: string;

  beforeAll(async () => {
    teamA = await app.seed.team(org, "Infer A");
    teamB = await app.seed.team(org, "Infer B");
    for (const t of [teamA, teamB]) await app.ok(org.admin.key, createEnv, { t, n: "dev" });
    solo = await app.seed.member(org, "MEMBER", [{ teamId: teamA, role: "MEMBER" }, { teamId: teamB, role: "VIEWER" }], "solo");
    multi = await app.seed.member(org, "MEMBER", [{ teamId: teamA, role: "MEMBER" }, { teamId: teamB, role: "MEMBER" }], "multi");
  });

  it("the only team where the caller can deploy", async () => {
    const result = await app.ok(solo.key, deploy, { m: "mistral", e: "dev" });
    expect(result.deployModel.model.team.id).toBe(teamA);
  });

  it("else the only such team that already has a model of that name", async () => {
    await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "whisper") { id } }`, { t: teamB });
    const result = await app.ok(multi.key, deploy, { m: "whisper", e: "dev" });
    expect(result.deployModel.model.team.id).toBe(teamB);
  });

  it("else BAD_USER_INPUT naming the candidate teams", async () => {
    const result = await app.gql(multi.key, deploy, { m: "brand-new", e: "dev" });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors?.[0]?.message).toContain(teamA);
    expect(result.errors?.[0]?.message).toContain(teamB);
  });
});

describe("chain sharing (PRODUCT.md §7)", () => {
  let teamId: string;
  let chainId: string;
  let otherChain: string;
  let guest: SeededMember;

  beforeAll(async () => {
    teamId = await app.seed.team(org, "Agents");
    const create = `mutation($t: ID!, $n: String!) { createChain(teamId: $t, name: $n, definition: { steps: ["plan"] }) { id } }`;
    chainId = (await app.ok(org.admin.key, create, { t: teamId, n: "support-bot" })).createChain.id;
    otherChain = (await app.ok(org.admin.key, create, { t: teamId, n: "billing-bot" })).createChain.id;
    await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "secret-model") { id } }`, { t: teamId });
    guest = await app.seed.member(org, "MEMBER", [], "guest");
  });

  const share = (access: string) =>
    app.ok(org.admin.key, `mutation($c: ID!, $u: ID!, $a: ChainAccess!) { shareChain(chainId: $c, userId: $u, access: $a) { id } }`, { c: chainId, u: guest.userId, a: access });

  it("a RUNNER outside the team views and runs that chain, cannot edit it, and sees nothing else of the team", async () => {
    expect(codes(await app.gql(guest.key, `query($c: ID!) { node(id: $c) { id } }`, { c: chainId }))).toEqual(["NOT_FOUND"]);
    await share("RUNNER");

    const chains = await app.ok(guest.key, `query($t: ID!) { team(id: $t) { name chains { edges { node { id name } } } } }`, { t: teamId });
    expect(chains.team.chains.edges.map((e: any) => e.node.id)).toEqual([chainId]);

    const run = await app.ok(guest.key, `mutation($c: ID!) { runChain(id: $c, input: { ticket: 42 }) { status startedBy { id } chain { id } } }`, { c: chainId });
    expect(run.runChain).toEqual({ status: "QUEUED", startedBy: { id: guest.userId }, chain: { id: chainId } });
    const runs = await app.ok(guest.key, `query($c: ID!) { node(id: $c) { ... on Chain { runs { startedBy { id } } } } }`, { c: chainId });
    expect(runs.node.runs).toEqual([{ startedBy: { id: guest.userId } }]);

    expect(codes(await app.gql(guest.key, `mutation($c: ID!) { updateChain(id: $c, definition: {}) { id } }`, { c: chainId }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(guest.key, `query($c: ID!) { node(id: $c) { id } }`, { c: otherChain }))).toEqual(["NOT_FOUND"]);
    for (const field of ["members { edges { cursor } }", "secrets { name }"]) {
      expect(codes(await app.gql(guest.key, `query($t: ID!) { team(id: $t) { ${field} } }`, { t: teamId }))).toEqual(["FORBIDDEN"]);
    }
    // Lists checked item by item simply hold nothing for them.
    const lists = await app.ok(guest.key, `query($t: ID!) { team(id: $t) { models { edges { cursor } } environments { id } trainingProjects { id } } }`, { t: teamId });
    expect(lists.team).toEqual({ models: { edges: [] }, environments: [], trainingProjects: [] });
    expect((await app.ok(guest.key, `{ viewer { teams { id } } }`)).viewer.teams).toEqual([]);
    expect((await app.ok(guest.key, `query($c: ID!) { viewerPermissions(on: $c) }`, { c: chainId })).viewerPermissions.sort()).toEqual(["chain:run", "chain:view"]);
    expect((await app.ok(guest.key, `query($t: ID!) { viewerPermissions(on: $t) }`, { t: teamId })).viewerPermissions).toEqual([]);
  });

  it("VIEWER only views; EDITOR also edits; a new share replaces the old access", async () => {
    await share("VIEWER");
    expect(codes(await app.gql(guest.key, `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chainId }))).toEqual(["FORBIDDEN"]);
    await share("EDITOR");
    expect((await app.ok(guest.key, `mutation($c: ID!) { updateChain(id: $c, definition: { steps: ["edited"] }) { definition } }`, { c: chainId })).updateChain.definition).toEqual({ steps: ["edited"] });
    expect((await app.ok(guest.key, `query($c: ID!) { viewerPermissions(on: $c) }`, { c: chainId })).viewerPermissions.sort()).toEqual(["chain:edit", "chain:run", "chain:view"]);
  });

  it("unsharing takes effect on the very next request", async () => {
    await app.ok(org.admin.key, `mutation($c: ID!, $u: ID!) { unshareChain(chainId: $c, userId: $u) { id } }`, { c: chainId, u: guest.userId });
    expect(codes(await app.gql(guest.key, `query($c: ID!) { node(id: $c) { id } }`, { c: chainId }))).toEqual(["NOT_FOUND"]);
    expect(codes(await app.gql(guest.key, `query($t: ID!) { team(id: $t) { name } }`, { t: teamId }))).toEqual(["NOT_FOUND"]);
  });

  it("a chain can be shared only with members of the organization", async () => {
    const stranger = await app.seed.org("Outside");
    const result = await app.gql(org.admin.key, `mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: VIEWER) { id } }`, { c: chainId, u: stranger.admin.userId });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
  });

  it("chain definitions reference secrets by name; an unknown name is BAD_USER_INPUT", async () => {
    await app.ok(org.admin.key, `mutation($t: ID!) { setSecret(teamId: $t, name: "OPENAI_KEY", value: "sk-live") { version } }`, { t: teamId });
    const update = `mutation($c: ID!, $d: JSON!) { updateChain(id: $c, definition: $d) { id } }`;
    const ok = await app.ok(org.admin.key, update, { c: chainId, d: { steps: [{ call: "llm", auth: { $secret: "OPENAI_KEY" } }] } });
    expect(ok.updateChain.id).toBe(chainId);
    const bad = await app.gql(org.admin.key, update, { c: chainId, d: { auth: { $secret: "MISSING" } } });
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
    expect(bad.errors?.[0]?.message).toContain("MISSING");
  });
});

describe("secrets", () => {
  let teamId: string;

  beforeAll(async () => {
    teamId = await app.seed.team(org, "Vault");
  });

  it("set creates, set again rotates (version increases); names visible to ADMIN and MEMBER only", async () => {
    const set = `mutation($t: ID!, $v: String!) { setSecret(teamId: $t, name: "DB_PASSWORD", value: $v) { name version updatedAt } }`;
    expect((await app.ok(org.admin.key, set, { t: teamId, v: "hunter2" })).setSecret.version).toBe(1);
    expect((await app.ok(org.admin.key, set, { t: teamId, v: "hunter3" })).setSecret.version).toBe(2);
    const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], "secret-reader");
    expect((await app.ok(member.key, `query($t: ID!) { team(id: $t) { secrets { name version } } }`, { t: teamId })).team.secrets).toEqual([{ name: "DB_PASSWORD", version: 2 }]);
  });

  it("no API returns a value: the Secret type has no field that could", async () => {
    const type = await app.ok(org.admin.key, `{ __type(name: "Secret") { fields { name } } }`);
    expect(type.__type.fields.map((f: any) => f.name).sort()).toEqual(["name", "updatedAt", "version"]);
  });

  it("the database holds ciphertext only, bound to its team and name", async () => {
    const row = await app.orgraph.deps.db.selectFrom("secrets").selectAll().where("team_id", "=", teamId).executeTakeFirstOrThrow();
    expect(row.ciphertext).not.toContain("hunter3");
    expect(Buffer.from(row.ciphertext, "base64").toString("latin1")).not.toContain("hunter3");
    const box = app.orgraph.deps.secretBox;
    expect(box.open(row.ciphertext, secretContext(teamId, "DB_PASSWORD"))).toBe("hunter3");
    expect(() => box.open(row.ciphertext, secretContext(teamId, "OTHER_NAME"))).toThrow();
  });

  it("bad names and values are BAD_USER_INPUT; deleting a missing secret is NOT_FOUND", async () => {
    for (const name of ["", "1ABC", "with space", "x".repeat(129)]) {
      expect(codes(await app.gql(org.admin.key, `mutation($t: ID!, $n: String!) { setSecret(teamId: $t, name: $n, value: "v") { name } }`, { t: teamId, n: name }))).toEqual(["BAD_USER_INPUT"]);
    }
    expect(codes(await app.gql(org.admin.key, `mutation($t: ID!) { setSecret(teamId: $t, name: "EMPTY", value: "") { name } }`, { t: teamId }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await app.gql(org.admin.key, `mutation($t: ID!) { deleteSecret(teamId: $t, name: "NOPE") }`, { t: teamId }))).toEqual(["NOT_FOUND"]);
  });
});

describe("names and deletion", () => {
  it("model, chain, training project and environment names are unique within a team, free across teams", async () => {
    const [t1, t2] = [await app.seed.team(org, "Names 1"), await app.seed.team(org, "Names 2")];
    for (const [mutation, field] of [
      [`mutation($t: ID!) { createModel(teamId: $t, name: "dup") { id } }`, "createModel"],
      [`mutation($t: ID!) { createChain(teamId: $t, name: "dup") { id } }`, "createChain"],
      [`mutation($t: ID!) { createTrainingProject(teamId: $t, name: "dup") { id } }`, "createTrainingProject"],
      [`mutation($t: ID!) { createEnvironment(teamId: $t, name: "dup") { id } }`, "createEnvironment"],
    ] as const) {
      expect((await app.ok(org.admin.key, mutation, { t: t1 }))[field].id).toBeTruthy();
      expect(codes(await app.gql(org.admin.key, mutation, { t: t1 }))).toEqual(["CONFLICT"]);
      expect((await app.ok(org.admin.key, mutation, { t: t2 }))[field].id).toBeTruthy();
    }
  });

  it("deleting a model removes its deployments and every relationship that points at it", async () => {
    const teamId = await app.seed.team(org, "Deleting");
    await app.ok(org.admin.key, createEnv, { t: teamId, n: "dev" });
    const deployed = await app.ok(org.admin.key, deploy, { t: teamId, m: "gone", e: "dev" });
    const modelId = deployed.deployModel.model.id;
    await app.ok(org.admin.key, `mutation($id: ID!) { deleteModel(id: $id) }`, { id: modelId });
    const db = app.orgraph.deps.db;
    expect(await db.selectFrom("deployments").select("id").where("model_id", "=", modelId).execute()).toEqual([]);
    expect(await db.selectFrom("authz_relationships").select("relation").where("resource_id", "=", modelId).execute()).toEqual([]);
    expect(codes(await app.gql(org.admin.key, `query($id: ID!) { node(id: $id) { id } }`, { id: deployed.deployModel.id }))).toEqual(["NOT_FOUND"]);
    expect(codes(await app.gql(org.admin.key, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: modelId }))).toEqual(["NOT_FOUND"]);
  });
});
