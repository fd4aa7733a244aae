import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticateRequest } from "../src/auth/authenticate.js";
import type { AppContext } from "../src/context.js";
import { createLoaders } from "../src/graphql/loaders.js";
import { newId } from "../src/ids.js";
import { approveAccessRequest } from "../src/modules/access-request/access-request.service.js";
import { startGrpcShimOverEmbeddedSpiceDb, type GrpcShimOverEmbeddedSpiceDb } from "./helpers/grpc-shim-over-embedded-spicedb.js";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 16 §4: just-in-time access. requestAccess / approveAccessRequest / denyAccessRequest,
 * the lists (Team, Environment and Viewer .accessRequests), and the expiry: an approved grant
 * ends by itself at its instant in SpiceDB, in Postgres, in every cache and in the gateway.
 */
const REQUEST = `mutation($i: AccessRequestInput!) { requestAccess(input: $i) { id status justification expiresAt requester { id } decidedBy { id } scopeId role durationMinutes } }`;
const APPROVE = `mutation($id: ID!) { approveAccessRequest(id: $id) { id status expiresAt decidedBy { id } } }`;
const DENY = `mutation($id: ID!, $r: String) { denyAccessRequest(id: $id, reason: $r) { id status expiresAt denyReason decidedBy { id } } }`;
const PERMS = `query($on: ID!) { viewerPermissions(on: $on) }`;
const GHOST_ENV = `env_${"0".repeat(28)}`;
const GHOST_REQUEST = `areq_${"0".repeat(28)}`;

interface World {
  app: TestApp;
  org: SeededOrg;
  team: string;
  prod: string;
  teamAdmin: SeededMember;
  member: SeededMember;
  viewer: SeededMember;
  /** A team MEMBER with a custom role that manages environments and members: could grant a grant directly, not ADMIN. */
  envManager: SeededMember;
  teamKey: string;
  outsider: SeededOrg;
}

async function buildWorld(env: Record<string, string>): Promise<World> {
  const app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000", RATE_LIMIT_AUTHORIZE_PER_SECOND: "1000000", ...env } });
  const org = await app.seed.org("Jit");
  const outsider = await app.seed.org("Outsider");
  const team = await app.seed.team(org, "platform");
  const prod = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "production", restricted: true) { id } }`, { t: team })).createEnvironment.id;
  await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: team });
  const teamAdmin = await app.seed.member(org, "MEMBER", [{ teamId: team, role: "ADMIN" }], "team-admin");
  const member = await app.seed.member(org, "MEMBER", [{ teamId: team, role: "MEMBER" }], "member");
  const viewer = await app.seed.member(org, "MEMBER", [{ teamId: team, role: "VIEWER" }], "viewer");
  const envManager = await app.seed.member(org, "MEMBER", [{ teamId: team, role: "MEMBER" }], "env-manager");
  const role = (await app.ok(org.admin.key, `mutation($o: ID!) { createRole(organizationId: $o, name: "env-managers", permissions: ["team:manage_environments", "team:manage_members"]) { id } }`, { o: org.orgId })).createRole.id;
  await app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: team, p: envManager.userId });
  const teamKey = (await app.ok(org.admin.key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, { i: { name: "ci", teamId: team, type: "FULL_ACCESS" } })).createApiKey.secret;
  return { app, org, team, prod, teamAdmin, member, viewer, envManager, teamKey, outsider };
}

const askGrant = (w: World, key: string, minutes = 120, justification = "incident 42: hotfix") =>
  w.app.gql(key, REQUEST, { i: { scopeId: w.prod, durationMinutes: minutes, justification } });

async function authorize(w: World, key: string, body: Record<string, unknown>) {
  const response = await w.app.http("/v1/authorize", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  return ((await response.json()) as { allowed: boolean }).allowed;
}

/** A request context for a service call, as app.ts builds one (the internal approval path with an exact instant). */
async function contextOf(w: World, key: string): Promise<AppContext> {
  const deps = w.app.orgraph.deps;
  const { principal, authz } = await authenticateRequest(deps, undefined, `Bearer ${key}`);
  return { deps, db: deps.db, requestId: "test", clientAddress: undefined, principal, authz, loaders: createLoaders(deps.db), logger: deps.logger };
}

/**
 * Twice: on the embedded SpiceDB, and on the remote path (authzed-node over real gRPC to the
 * shim, with the stamp read from Postgres as several processes read it): the expiration
 * travels through both clients as optionalExpiresAt.
 */
describe.each([
  ["the embedded SpiceDB", false],
  ["a remote SpiceDB (gRPC shim)", true],
])("just-in-time access requests, on %s", (_mode, remote) => {
  let w: World;
  let shim: GrpcShimOverEmbeddedSpiceDb | undefined;
  beforeAll(async () => {
    shim = remote ? await startGrpcShimOverEmbeddedSpiceDb() : undefined;
    w = await buildWorld(shim ? { SPICEDB_ENDPOINT: shim.endpoint, SPICEDB_TOKEN: shim.token, SPICEDB_TLS: "false" } : {});
  }, 120_000);
  afterAll(async () => {
    await w?.app.close();
    await shim?.close();
  });

  it("a MEMBER asks for a grant on a restricted environment; the requester and its managers list it, a VIEWER's list drops it", async () => {
    const asked = (await w.app.ok(w.member.key, REQUEST, { i: { scopeId: w.prod, durationMinutes: 120, justification: "  incident 7  " } })).requestAccess;
    expect(asked).toMatchObject({ status: "PENDING", justification: "incident 7", requester: { id: w.member.userId }, decidedBy: null, scopeId: w.prod, role: null, durationMinutes: 120 });
    const mine = (await w.app.ok(w.member.key, `{ viewer { accessRequests { id status } } }`)).viewer.accessRequests;
    expect(mine).toContainEqual({ id: asked.id, status: "PENDING" });
    const envList = `query($e: ID!) { node(id: $e) { ... on Environment { accessRequests { id } } } }`;
    const teamList = `query($t: ID!) { team(id: $t) { accessRequests { id } } }`;
    expect((await w.app.ok(w.teamAdmin.key, envList, { e: w.prod })).node.accessRequests).toContainEqual({ id: asked.id });
    expect((await w.app.ok(w.teamAdmin.key, teamList, { t: w.team })).team.accessRequests).toContainEqual({ id: asked.id });
    expect((await w.app.ok(w.envManager.key, envList, { e: w.prod })).node.accessRequests).toContainEqual({ id: asked.id });
    // The VIEWER sees the environment and the team, not the request: dropped, the parent intact.
    expect((await w.app.ok(w.viewer.key, envList, { e: w.prod })).node.accessRequests).toEqual([]);
    expect((await w.app.ok(w.viewer.key, teamList, { t: w.team })).team.accessRequests).toEqual([]);
    // node(id) of it answers the VIEWER as a random id does.
    const node = `query($id: ID!) { node(id: $id) { id } }`;
    const hidden = await w.app.gql(w.viewer.key, node, { id: asked.id });
    const ghost = await w.app.gql(w.viewer.key, node, { id: GHOST_REQUEST });
    expect(codes(hidden)).toEqual(["NOT_FOUND"]);
    expect(hidden.errors![0]!.message).toBe(ghost.errors![0]!.message);
    expect((await w.app.ok(w.member.key, node, { id: asked.id })).node.id).toBe(asked.id);
    // A duplicate pending request is CONFLICT; the audit log has the request.
    expect(codes(await w.app.gql(w.member.key, REQUEST, { i: { scopeId: w.prod, durationMinutes: 30, justification: "again" } }))).toEqual(["CONFLICT"]);
    const events = await w.app.orgraph.deps.db.selectFrom("audit_events").select(["action", "result"]).where("target_id", "=", w.prod).where("action", "=", "access_request.request").execute();
    expect(events.map((e) => e.result)).toEqual(expect.arrayContaining(["SUCCESS", "ERROR"]));
  });

  it("refuses bad input, what one already holds, an invisible scope like a random id, and keys", async () => {
    const bad = [
      { scopeId: w.prod, durationMinutes: 0, justification: "x" },
      { scopeId: w.prod, durationMinutes: 7 * 24 * 60 + 1, justification: "x" },
      { scopeId: w.prod, durationMinutes: 10, justification: "   " },
      { scopeId: w.prod, durationMinutes: 10, justification: "x".repeat(1001) },
      { scopeId: w.prod, role: "ADMIN", durationMinutes: 10, justification: "role on an environment" },
      { scopeId: w.team, durationMinutes: 10, justification: "no role on a team" },
      { scopeId: w.team, role: "VIEWER", durationMinutes: 10, justification: "a MEMBER holds VIEWER" },
    ];
    for (const i of bad) expect(codes(await w.app.gql(w.member.key, REQUEST, { i })), JSON.stringify(i)).toEqual(["BAD_USER_INPUT"]);
    // A grant would give a VIEWER nothing (only writers deploy); an org ADMIN already manages every environment.
    expect(codes(await askGrant(w, w.viewer.key))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await askGrant(w, w.org.admin.key))).toEqual(["BAD_USER_INPUT"]);
    // Another organization's admin: exactly as for a random id.
    const theirs = await askGrant(w, w.outsider.admin.key);
    const ghost = await w.app.gql(w.outsider.admin.key, REQUEST, { i: { scopeId: GHOST_ENV, durationMinutes: 10, justification: "x" } });
    expect(codes(theirs)).toEqual(["NOT_FOUND"]);
    expect(theirs.errors![0]!.message).toBe(ghost.errors![0]!.message);
    // A team key sees the environment, but only people request access.
    expect(codes(await askGrant(w, w.teamKey))).toEqual(["FORBIDDEN"]);
    expect(codes(await w.app.gql(undefined, REQUEST, { i: { scopeId: w.prod, durationMinutes: 10, justification: "x" } }))).toEqual(["UNAUTHENTICATED"]);
  });

  it("bounds the pending requests of one requester; a request nobody decides lapses (EXPIRED) and frees its place", async () => {
    const bounded = await w.app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "VIEWER" }], "bounded");
    const ask = (role: string, minutes = 5) => w.app.gql(bounded.key, REQUEST, { i: { scopeId: w.team, role, durationMinutes: minutes, justification: "x" } });
    const first = await ask("OPERATOR");
    expect(codes(first)).toEqual([]);
    expect(codes(await ask("MEMBER"))).toEqual([]);
    // Eight more pending requests of this requester (on teams it could have seen), to reach the bound.
    const db = w.app.orgraph.deps.db;
    for (let i = 0; i < 8; i++) {
      const team = await w.app.seed.team(w.org, `bound-${i}`);
      await db.insertInto("access_requests").values({
        id: newId("AccessRequest"), org_id: w.org.orgId, team_id: team, environment_id: null, role: "VIEWER", requester_id: bounded.userId,
        justification: "x", duration_minutes: 5, status: "PENDING", decide_by: new Date(Date.now() + 3_600_000),
        expires_at: null, decided_by: null, decided_at: null, deny_reason: null,
      }).execute();
    }
    // The bound is checked before the duplicate: an eleventh request answers with it.
    const eleventh = await ask("OPERATOR");
    expect(codes(eleventh)).toEqual(["BAD_USER_INPUT"]);
    expect(eleventh.errors![0]!.message).toMatch(/10 pending/);
    // The first one lapses undecided: it reads EXPIRED, cannot be approved, and its place is free.
    const firstId = first.data!.requestAccess.id;
    await db.updateTable("access_requests").set({ decide_by: new Date(Date.now() - 1000) }).where("id", "=", firstId).execute();
    const status = `query($id: ID!) { node(id: $id) { ... on AccessRequest { status expiresAt } } }`;
    expect((await w.app.ok(bounded.key, status, { id: firstId })).node.status).toBe("EXPIRED");
    expect(codes(await w.app.gql(w.teamAdmin.key, APPROVE, { id: firstId }))).toEqual(["CONFLICT"]);
    expect(codes(await ask("OPERATOR"))).toEqual([]);
  });

  it("only someone who could grant it decides, never the requester; a decided request is CONFLICT", async () => {
    // The env manager could grant itself the environment directly, and still may not approve its own request.
    const own = (await w.app.ok(w.envManager.key, REQUEST, { i: { scopeId: w.prod, durationMinutes: 60, justification: "mine" } })).requestAccess.id;
    const self = await w.app.gql(w.envManager.key, APPROVE, { id: own });
    expect(codes(self)).toEqual(["FORBIDDEN"]);
    expect(codes(await w.app.gql(w.envManager.key, DENY, { id: own }))).toEqual(["FORBIDDEN"]);
    // Keys and service accounts decide nothing; a VIEWER (cannot see it) and an outsider answer as for a random id.
    expect(codes(await w.app.gql(w.teamKey, APPROVE, { id: own }))).toEqual(["NOT_FOUND"]);
    for (const key of [w.viewer.key, w.outsider.admin.key]) {
      const answer = await w.app.gql(key, APPROVE, { id: own });
      const ghost = await w.app.gql(key, APPROVE, { id: GHOST_REQUEST });
      expect(codes(answer)).toEqual(["NOT_FOUND"]);
      expect(answer.errors![0]!.message).toBe(ghost.errors![0]!.message);
    }
    // A role request (ADMIN cannot be asked for: see the test of what temporary access never carries).
    const wantsAdmin = (await w.app.ok(w.viewer.key, REQUEST, { i: { scopeId: w.team, role: "MEMBER", durationMinutes: 60, justification: "on call" } })).requestAccess.id;
    // The team ADMIN denies it with a reason; then it can be neither approved nor denied again.
    const denied = (await w.app.ok(w.teamAdmin.key, DENY, { id: wantsAdmin, r: "use the runbook" })).denyAccessRequest;
    expect(denied).toMatchObject({ status: "DENIED", expiresAt: null, denyReason: "use the runbook", decidedBy: { id: w.teamAdmin.userId } });
    expect(codes(await w.app.gql(w.teamAdmin.key, APPROVE, { id: wantsAdmin }))).toEqual(["CONFLICT"]);
    expect(codes(await w.app.gql(w.teamAdmin.key, DENY, { id: wantsAdmin }))).toEqual(["CONFLICT"]);
    // The team ADMIN approves the env manager's request: it manages deployments there now, for 60 minutes.
    expect((await w.app.ok(w.envManager.key, PERMS, { on: w.prod })).viewerPermissions).not.toContain("environment:manage");
    const before = Date.now();
    const approved = (await w.app.ok(w.teamAdmin.key, APPROVE, { id: own })).approveAccessRequest;
    expect(approved).toMatchObject({ status: "APPROVED", decidedBy: { id: w.teamAdmin.userId } });
    const ends = new Date(approved.expiresAt).getTime();
    expect(ends).toBeGreaterThanOrEqual(before + 60 * 60_000);
    expect((await w.app.ok(w.envManager.key, PERMS, { on: w.prod })).viewerPermissions).toContain("environment:manage");
    expect(codes(await w.app.gql(w.teamAdmin.key, APPROVE, { id: own }))).toEqual(["CONFLICT"]);
    expect(codes(await w.app.gql(w.teamAdmin.key, DENY, { id: own }))).toEqual(["CONFLICT"]);
    // Postgres carries the expiry of the grant.
    const row = await w.app.orgraph.deps.db.selectFrom("authz_relationships").select("expires_at").where("resource_id", "=", w.prod).where("relation", "=", "grantee").where("subject_id", "=", w.envManager.userId).executeTakeFirstOrThrow();
    expect(row.expires_at?.getTime()).toBe(ends);
    // Every step is audited.
    const actions = await w.app.orgraph.deps.db.selectFrom("audit_events").select(["action", "result"]).where("target_id", "in", [own, wantsAdmin]).execute();
    expect(actions).toEqual(expect.arrayContaining([
      { action: "access_request.approve", result: "SUCCESS" }, { action: "access_request.deny", result: "SUCCESS" }, { action: "access_request.approve", result: "DENIED" },
    ]));
  });

  it("taking away a temporary role is granting it in reverse: a member manager who is no MEMBER cannot remove a temporary MEMBER", async () => {
    const elevated = await w.app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "VIEWER" }], "elevated");
    const remover = await w.app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "VIEWER" }], "viewer-member-manager");
    const role = (await w.app.ok(w.org.admin.key, `mutation($o: ID!) { createRole(organizationId: $o, name: "member-managers", permissions: ["team:manage_members"]) { id } }`, { o: w.org.orgId })).createRole.id;
    await w.app.ok(w.org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: w.team, p: remover.userId });
    const id = (await w.app.ok(elevated.key, REQUEST, { i: { scopeId: w.team, role: "MEMBER", durationMinutes: 60, justification: "release night" } })).requestAccess.id;
    expect((await w.app.ok(w.org.admin.key, APPROVE, { id })).approveAccessRequest.status).toBe("APPROVED");
    expect((await w.app.ok(elevated.key, PERMS, { on: w.team })).viewerPermissions).toContain("resources:write");
    const remove = `mutation($t: ID!, $p: ID!) { removeTeamMember(teamId: $t, principalId: $p) }`;
    expect(codes(await w.app.gql(remover.key, remove, { t: w.team, p: elevated.userId }))).toEqual(["FORBIDDEN"]);
    expect((await w.app.ok(elevated.key, PERMS, { on: w.team })).viewerPermissions).toContain("resources:write");
    // A team ADMIN may, and the temporary role goes with the membership.
    expect((await w.app.ok(w.teamAdmin.key, remove, { t: w.team, p: elevated.userId })).removeTeamMember).toBe(true);
    expect((await w.app.gql(elevated.key, PERMS, { on: w.team })).data?.viewerPermissions ?? []).not.toContain("team:view");
  });

  it("temporary access never carries a power to grant, mint or share: ADMIN cannot be asked for, nor approved from a stored request", async () => {
    const climber = await w.app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "MEMBER" }], "climber");
    const asked = await w.app.gql(climber.key, REQUEST, { i: { scopeId: w.team, role: "ADMIN", durationMinutes: 60, justification: "take over" } });
    expect(codes(asked)).toEqual(["BAD_USER_INPUT"]);
    expect(asked.errors![0]!.message).toBe("ADMIN cannot be requested just in time: it grants and mints lasting access");
    // A request for ADMIN stored before this rule (or written by hand) is refused at approval too, and grants nothing.
    const stored = newId("AccessRequest");
    await w.app.orgraph.deps.db.insertInto("access_requests").values({
      id: stored, org_id: w.org.orgId, team_id: w.team, environment_id: null, role: "ADMIN", requester_id: climber.userId,
      justification: "legacy", duration_minutes: 60, status: "PENDING", decide_by: new Date(Date.now() + 3_600_000),
      expires_at: null, decided_by: null, decided_at: null, deny_reason: null,
    }).execute();
    const approved = await w.app.gql(w.org.admin.key, APPROVE, { id: stored });
    expect(codes(approved)).toEqual(["BAD_USER_INPUT"]);
    expect(approved.errors![0]!.message).toBe("ADMIN cannot be requested just in time: it grants and mints lasting access");
    expect((await w.app.ok(climber.key, PERMS, { on: w.team })).viewerPermissions).not.toContain("team:manage_members");
    expect(await w.app.orgraph.deps.db.selectFrom("authz_relationships").select("relation").where("resource_id", "=", w.team).where("subject_id", "=", climber.userId).execute()).toEqual([{ relation: "member" }]);
  });

  it("a temporary OPERATOR or MEMBER obtains nothing lasting during its window, and holds nothing extra after it", async () => {
    const temp = await w.app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "VIEWER" }], "temporary");
    const second = await w.app.seed.member(w.org, "MEMBER", [], "second-account");
    const attempts: [string, string, Record<string, unknown>][] = [
      ["setTeamRole", `mutation($t: ID!, $p: ID!, $r: TeamRole!) { setTeamRole(teamId: $t, principalId: $p, role: $r) { role } }`, { t: w.team, p: temp.userId }],
      ["addTeamMember", `mutation($t: ID!, $p: ID!, $r: TeamRole!) { addTeamMember(teamId: $t, principalId: $p, role: $r) { role } }`, { t: w.team, p: second.userId }],
      ["createApiKey", `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, { i: { name: "mine", teamId: w.team, type: "FULL_ACCESS" } }],
      ["createServiceAccount", `mutation($t: ID!, $r: TeamRole!) { createServiceAccount(teamId: $t, name: "mine", role: $r) { serviceAccount { id } } }`, { t: w.team }],
      ["grantEnvironmentAccess", `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: w.prod, p: temp.userId }],
    ];
    for (const role of ["OPERATOR", "MEMBER"]) {
      const id = (await w.app.ok(temp.key, REQUEST, { i: { scopeId: w.team, role, durationMinutes: 1, justification: "on call" } })).requestAccess.id;
      const ends = new Date(Date.now() + 3_000);
      await approveAccessRequest(await contextOf(w, w.teamAdmin.key), id, { expiresAt: ends });
      expect((await w.app.ok(temp.key, PERMS, { on: w.team })).viewerPermissions).toContain("models:invoke");
      for (const [name, mutation, variables] of attempts) {
        const vars = name === "createApiKey" || name === "grantEnvironmentAccess" ? variables : { ...variables, r: role };
        expect(codes(await w.app.gql(temp.key, mutation, vars)), `${role}: ${name}`).toEqual(["FORBIDDEN"]);
      }
      while (Date.now() <= ends.getTime()) await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await w.app.ok(temp.key, PERMS, { on: w.team })).viewerPermissions).not.toContain("models:invoke");
    }
    // After both windows: exactly the standing VIEWER role, no grant, no key, no account, no second member.
    const db = w.app.orgraph.deps.db;
    const held = await db.selectFrom("authz_relationships").select(["resource_id", "relation", "expires_at"]).where("subject_id", "in", [temp.userId, second.userId]).where("resource_id", "in", [w.team, w.prod]).execute();
    expect(held.filter((r) => r.expires_at === null || r.expires_at > new Date())).toEqual([{ resource_id: w.team, relation: "viewer", expires_at: null }]);
    expect(await db.selectFrom("service_accounts").select("id").where("team_id", "=", w.team).where("name", "=", "mine").execute()).toEqual([]);
  }, 60_000);

  it("an approved access ends at its instant: no allow survives it in SpiceDB, Postgres, the caches or the gateway", async () => {
    const operator = await w.app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "VIEWER" }], "operator-for-a-while");
    const grant = await w.app.seed.member(w.org, "MEMBER", [{ teamId: w.team, role: "MEMBER" }], "grant-for-a-while");
    const roleId = (await w.app.ok(operator.key, REQUEST, { i: { scopeId: w.team, role: "OPERATOR", durationMinutes: 1, justification: "load test" } })).requestAccess.id;
    const grantId = (await w.app.ok(grant.key, REQUEST, { i: { scopeId: w.prod, durationMinutes: 1, justification: "hotfix" } })).requestAccess.id;
    const ctx = await contextOf(w, w.teamAdmin.key);
    const ends = new Date(Date.now() + 3_000);
    await approveAccessRequest(ctx, roleId, { expiresAt: ends });
    await approveAccessRequest(await contextOf(w, w.teamAdmin.key), grantId, { expiresAt: ends });
    const invoke = { action: "model:invoke", team: w.team, model: "m", environment: "production" };
    const manage = { action: "environment:manage", team: w.team, model: "m", environment: "production" };
    // Warm every cache with allows: checks (viewerPermissions), decisions (/v1/authorize), keys.
    for (let i = 0; i < 3; i++) {
      expect((await w.app.ok(operator.key, PERMS, { on: w.team })).viewerPermissions).toContain("models:invoke");
      expect((await w.app.ok(grant.key, PERMS, { on: w.prod })).viewerPermissions).toContain("environment:manage");
      expect(await authorize(w, operator.key, invoke)).toBe(true);
      expect(await authorize(w, grant.key, manage)).toBe(true);
    }
    const listed = `query($id: ID!) { node(id: $id) { ... on AccessRequest { status } } }`;
    expect((await w.app.ok(operator.key, listed, { id: roleId })).node.status).toBe("APPROVED");
    while (Date.now() <= ends.getTime()) await new Promise((resolve) => setTimeout(resolve, 100));
    // Past the instant, with no write in between: denied everywhere.
    expect((await w.app.ok(operator.key, PERMS, { on: w.team })).viewerPermissions).not.toContain("models:invoke");
    expect((await w.app.ok(grant.key, PERMS, { on: w.prod })).viewerPermissions).not.toContain("environment:manage");
    expect(await authorize(w, operator.key, invoke)).toBe(false);
    expect(await authorize(w, grant.key, manage)).toBe(false);
    expect((await w.app.ok(operator.key, listed, { id: roleId })).node.status).toBe("EXPIRED");
    expect((await w.app.ok(grant.key, `{ viewer { accessRequests { id status } } }`)).viewer.accessRequests).toContainEqual({ id: grantId, status: "EXPIRED" });
    // The record's reads skip the expired rows (the refill at start restores none of them), and the drift check finds nothing.
    const { findRelationships } = await import("../src/authz/relationship.repository.js");
    const { findDrift } = await import("../src/authz/drift.js");
    expect(await findRelationships(w.app.orgraph.deps.db, { resource: { type: "environment", id: w.prod }, relations: ["grantee"], subject: { type: "user", id: grant.userId } })).toEqual([]);
    expect(await findRelationships(w.app.orgraph.deps.db, { resource: { type: "team", id: w.team }, relations: ["operator"], subject: { type: "user", id: operator.userId } })).toEqual([]);
    const drift = await findDrift(w.app.orgraph.deps.db, w.app.orgraph.deps.authzClient);
    expect(drift).toEqual({ missing: [], extra: [] });
    // An expired request cannot be approved again; a new request can.
    expect(codes(await w.app.gql(w.teamAdmin.key, APPROVE, { id: roleId }))).toEqual(["CONFLICT"]);
    expect(codes(await w.app.gql(operator.key, REQUEST, { i: { scopeId: w.team, role: "OPERATOR", durationMinutes: 1, justification: "again" } }))).toEqual([]);
  }, 60_000);
});

describe("just-in-time access across a restart (embedded default: SpiceDB refilled from Postgres)", () => {
  let root: string;
  let app: TestApp | undefined;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "orgraph-jit-"));
  });
  afterAll(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("restores a live grant with its expiry and not one that expired while the server was down", async () => {
    const env = { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" };
    app = await startTestApp({ embeddedDataDir: join(root, "data"), env });
    const org = await app.seed.org("Restart");
    const team = await app.seed.team(org, "ops");
    const prod = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "production", restricted: true) { id } }`, { t: team })).createEnvironment.id;
    const lasting = await app.seed.member(org, "MEMBER", [{ teamId: team, role: "MEMBER" }], "lasting");
    const brief = await app.seed.member(org, "MEMBER", [{ teamId: team, role: "MEMBER" }], "brief");
    const ask = async (key: string) => (await app!.ok(key, REQUEST, { i: { scopeId: prod, durationMinutes: 60, justification: "restart" } })).requestAccess.id as string;
    const lastingId = await ask(lasting.key);
    const briefId = await ask(brief.key);
    const ends = (await app.ok(org.admin.key, APPROVE, { id: lastingId })).approveAccessRequest.expiresAt as string;
    const briefEnds = new Date(Date.now() + 2_000);
    const deps = app.orgraph.deps;
    const { principal, authz } = await authenticateRequest(deps, undefined, `Bearer ${org.admin.key}`);
    await approveAccessRequest({ deps, db: deps.db, requestId: "test", clientAddress: undefined, principal, authz, loaders: createLoaders(deps.db), logger: deps.logger }, briefId, { expiresAt: briefEnds });
    expect((await app.ok(brief.key, PERMS, { on: prod })).viewerPermissions).toContain("environment:manage");
    await app.orgraph.close();
    while (Date.now() <= briefEnds.getTime()) await new Promise((resolve) => setTimeout(resolve, 100));

    app = await startTestApp({ embeddedDataDir: join(root, "data"), env });
    const grantees = (await app.orgraph.deps.authzClient.readRelationships("environment")).filter((r) => r.resource.id === prod && r.relation === "grantee");
    expect(grantees.map((r) => ({ id: r.subject.id, expiresAt: r.expiresAt?.toISOString() }))).toEqual([{ id: lasting.userId, expiresAt: new Date(ends).toISOString() }]);
    expect((await app.ok(lasting.key, PERMS, { on: prod })).viewerPermissions).toContain("environment:manage");
    expect((await app.ok(brief.key, PERMS, { on: prod })).viewerPermissions).not.toContain("environment:manage");
  }, 60_000);
});
