import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

let app: TestApp;
let org: SeededOrg;
let teamId: string;
let member: SeededMember;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Audited");
  member = await app.seed.member(org, "MEMBER", [{ teamId, role: "VIEWER" }], "watched");
});
afterAll(() => app?.close());

const events = async (filter: string) =>
  (await app.ok(org.admin.key, `query($o: ID!) { organization(id: $o) { auditLog(first: 100, ${filter}) { edges { node { id at action targetId result error diff authMethod authRef requestId actor { id kind } } } } } }`, { o: org.orgId }))
    .organization.auditLog.edges.map((e: any) => e.node);

describe("every mutation is audited", () => {
  it("a successful mutation: who, how, what, target, result and before/after", async () => {
    await app.ok(org.admin.key, `mutation($t: ID!, $u: ID!) { setTeamRole(teamId: $t, principalId: $u, role: OPERATOR) { role } }`, { t: teamId, u: member.userId });
    const [event] = await events(`action: "team.member.set_role"`);
    expect(event).toMatchObject({
      action: "team.member.set_role",
      targetId: member.userId,
      result: "SUCCESS",
      error: null,
      diff: { role: { before: "VIEWER", after: "OPERATOR" } },
      authMethod: "api_key",
      actor: { id: org.admin.userId, kind: "USER" },
    });
    expect(event.authRef).toMatch(/^key_/);
    expect(event.requestId).toBeTruthy();
  });

  it("a denied attempt is recorded too, with the error", async () => {
    const denied = await app.gql(member.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "sneaky") { id } }`, { t: teamId });
    expect(codes(denied)).toEqual(["FORBIDDEN"]);
    const [event] = await events(`action: "environment.create", result: DENIED`);
    expect(event).toMatchObject({ result: "DENIED", actor: { id: member.userId }, targetId: teamId });
    expect(event.error).toContain("not allowed");
    // Nothing was created.
    expect(await app.orgraph.deps.db.selectFrom("environments").select("id").where("name", "=", "sneaky").execute()).toEqual([]);
  });

  it("a failed mutation is recorded as ERROR", async () => {
    await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "dup") { id } }`, { t: teamId });
    expect(codes(await app.gql(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "dup") { id } }`, { t: teamId }))).toEqual(["CONFLICT"]);
    const [event] = await events(`action: "model.create", result: ERROR`);
    expect(event.error).toContain("dup");
  });

  it("secret values never appear, only that they changed", async () => {
    await app.ok(org.admin.key, `mutation($t: ID!) { setSecret(teamId: $t, name: "API_TOKEN", value: "s3cr3t-value") { version } }`, { t: teamId });
    const all = JSON.stringify(await app.orgraph.deps.db.selectFrom("audit_events").selectAll().execute());
    expect(all).not.toContain("s3cr3t-value");
    const [event] = await events(`action: "secret.set"`);
    expect(event.diff).toEqual({ name: "API_TOKEN", value: "changed" });
    // Invitation tokens are redacted from recorded input as well.
    await app.ok(org.admin.key, `mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token } }`, { i: { organizationId: org.orgId, email: "audit@example.test", role: "MEMBER" } });
  });

  it.each([
    ["createTeam", `mutation($o: ID!) { createTeam(organizationId: $o, name: "Audit T") { id } }`, "team.create"],
    ["renameOrganization", `mutation($o: ID!) { renameOrganization(id: $o, name: "Renamed") { id } }`, "organization.rename"],
    ["createApiKey", `mutation { createApiKey(input: { name: "k" }) { secret } }`, "api_key.create"],
    ["createRole", `mutation($o: ID!) { createRole(organizationId: $o, name: "Audit role", permissions: ["team:view"]) { id } }`, "role.create"],
  ])("%s writes its event (%s)", async (_name, mutation, action) => {
    const before = (await events(`action: "${action}"`)).length;
    await app.ok(org.admin.key, mutation, { o: org.orgId });
    const after = await events(`action: "${action}"`);
    expect(after.length).toBe(before + (action === "api_key.create" ? 0 : 1));
  });

  it("filters by actor and time range, newest first, with pages", async () => {
    const mine = await events(`actorId: "${member.userId}"`);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e: any) => e.actor?.id === member.userId)).toBe(true);
    expect(await events(`from: "${new Date(Date.now() + 60_000).toISOString()}"`)).toEqual([]);
    const all = await events("");
    const times = all.map((e: any) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    const page = await app.ok(org.admin.key, `query($o: ID!) { organization(id: $o) { auditLog(first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`, { o: org.orgId });
    const next = await app.ok(org.admin.key, `query($o: ID!, $a: String) { organization(id: $o) { auditLog(first: 2, after: $a) { edges { node { id } } } } }`, { o: org.orgId, a: page.organization.auditLog.pageInfo.endCursor });
    expect(next.organization.auditLog.edges[0].node.id).toBe(all[2].id);
  });
});

describe("who reads the log", () => {
  it("org ADMINs read the organization's log; others are FORBIDDEN", async () => {
    const query = `query($o: ID!) { organization(id: $o) { auditLog { edges { cursor } } } }`;
    expect(codes(await app.gql(member.key, query, { o: org.orgId }))).toEqual(["FORBIDDEN"]);
    const billing = await app.seed.member(org, "BILLING_ADMIN", [], "billing-reader");
    expect(codes(await app.gql(billing.key, query, { o: org.orgId }))).toEqual(["FORBIDDEN"]);
  });

  it("any team role reads the team's events, and only those", async () => {
    const data = await app.ok(member.key, `query($t: ID!) { team(id: $t) { auditLog(first: 100) { edges { node { action } } } } }`, { t: teamId });
    const actions = data.team.auditLog.edges.map((e: any) => e.node.action);
    expect(actions).toContain("team.member.set_role");
    expect(actions).not.toContain("organization.rename");
    const outsider = await app.seed.member(org, "MEMBER", [], "outsider");
    expect(codes(await app.gql(outsider.key, `query($t: ID!) { team(id: $t) { auditLog { edges { cursor } } } }`, { t: teamId }))).toEqual(["NOT_FOUND"]);
  });
});

describe("tamper evidence", () => {
  it("the database refuses UPDATE, DELETE and TRUNCATE of audit events", async () => {
    const db = app.orgraph.deps.db;
    await expect(db.updateTable("audit_events").set({ action: "forged" }).execute()).rejects.toThrow(/append-only/);
    await expect(db.deleteFrom("audit_events").execute()).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_events`.execute(db)).rejects.toThrow(/append-only/);
  });

  it("verifyAuditLog proves the chain intact, and names the first event changed behind the trigger's back", async () => {
    const query = `query($o: ID!) { organization(id: $o) { verifyAuditLog { ok checked firstBrokenId } } }`;
    const intact = (await app.ok(org.admin.key, query, { o: org.orgId })).organization.verifyAuditLog;
    expect(intact.ok).toBe(true);
    expect(intact.checked).toBeGreaterThan(5);

    const db = app.orgraph.deps.db;
    const victim = (await db.selectFrom("audit_events").select(["id", "seq"]).where("chain", "=", org.orgId).orderBy("seq").offset(3).limit(1).executeTakeFirstOrThrow());
    // The table owner can switch triggers off: which is why the API should not run as it (README).
    await db.transaction().execute(async (tx) => {
      await sql`alter table audit_events disable trigger audit_events_no_update_delete`.execute(tx);
      await tx.updateTable("audit_events").set({ action: "team.delete" }).where("id", "=", victim.id).execute();
      await sql`alter table audit_events enable trigger audit_events_no_update_delete`.execute(tx);
    });
    const broken = (await app.ok(org.admin.key, query, { o: org.orgId })).organization.verifyAuditLog;
    expect(broken).toEqual({ ok: false, checked: 3, firstBrokenId: victim.id });
  });
});

describe("export for a SIEM", () => {
  it("streams the organization's log as NDJSON to org ADMINs only", async () => {
    const response = await app.fetch(`/v1/audit/export?organization=${org.orgId}`, { headers: { authorization: `Bearer ${org.admin.key}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/x-ndjson");
    const lines = (await response.text()).trim().split("\n").map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.map((l) => Number(l.seq))).toEqual(lines.map((_, i) => i + 1));

    expect((await app.fetch(`/v1/audit/export?organization=${org.orgId}`, { headers: { authorization: `Bearer ${member.key}` } })).status).toBe(403);
    expect((await app.fetch(`/v1/audit/export?organization=${org.orgId}`)).status).toBe(401);
    expect((await app.fetch(`/v1/audit/export?organization=nope`, { headers: { authorization: `Bearer ${org.admin.key}` } })).status).toBe(400);
    const other = await app.seed.org("Other");
    expect((await app.fetch(`/v1/audit/export?organization=${other.orgId}`, { headers: { authorization: `Bearer ${org.admin.key}` } })).status).toBe(404);
  });

  it("exports 100,000 events page by page", async () => {
    const big = await app.seed.org("Big");
    const db = app.orgraph.deps.db;
    // Bulk-inserted rows (their hashes are not a chain; export does not verify).
    await sql`
      insert into audit_events (id, chain, seq, org_id, at, action, result, prev_hash, hash)
      select 'evt_' || lpad(to_hex(g), 28, '0'), ${big.orgId}, 1000 + g, ${big.orgId}, now(), 'bulk.event', 'SUCCESS', '', ''
      from generate_series(1, 100000) g`.execute(db);
    const response = await app.fetch(`/v1/audit/export?organization=${big.orgId}`, { headers: { authorization: `Bearer ${big.admin.key}` } });
    let lines = 0;
    let bytes = 0;
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      lines += decoder.decode(chunk).split("\n").length - 1;
    }
    expect(lines).toBeGreaterThanOrEqual(100_000);
    expect(bytes).toBeGreaterThan(10_000_000);
  });
});
