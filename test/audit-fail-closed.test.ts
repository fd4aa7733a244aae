import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 11: a mutation whose audit event cannot be written fails and changes nothing, in
 * Postgres or in SpiceDB. The fault is real: a trigger refuses every insert into the audit
 * tables while a row sits in `audit_fault`.
 */
let app: TestApp;
let org: SeededOrg;
let teamId: string;
let envId: string;
let outsider: SeededMember;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org("Faulty");
  teamId = await app.seed.team(org, "Kept");
  envId = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod", restricted: true) { id } }`, { t: teamId })).createEnvironment.id;
  outsider = await app.seed.member(org, "MEMBER", [], "outsider");
  const db = app.orgraph.deps.db;
  await sql`create table audit_fault (id int)`.execute(db);
  await sql`create function audit_fault_raise() returns trigger language plpgsql as $$
    begin
      if exists (select 1 from audit_fault) then raise exception 'injected: the audit event cannot be written'; end if;
      return new;
    end; $$`.execute(db);
  await sql`create trigger audit_fault before insert on audit_events for each row execute function audit_fault_raise()`.execute(db);
  await sql`create trigger audit_fault before insert on security_events for each row execute function audit_fault_raise()`.execute(db);
});
afterAll(() => app?.close());

async function withAuditFault<T>(run: () => Promise<T>): Promise<T> {
  const db = app.orgraph.deps.db;
  await sql`insert into audit_fault values (1)`.execute(db);
  try {
    return await run();
  } finally {
    await sql`delete from audit_fault`.execute(db);
  }
}

/** Everything a change could have left: domain rows are checked per case; these are the relationship record, outbox and keys. */
async function footprint() {
  const db = app.orgraph.deps.db;
  const count = async (table: "authz_relationships" | "authz_outbox" | "api_keys" | "teams" | "team_memberships" | "org_memberships" | "users") =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
  return {
    relationships: await count("authz_relationships"),
    outbox: await count("authz_outbox"),
    keys: await count("api_keys"),
    teams: await count("teams"),
    teamMemberships: await count("team_memberships"),
    orgMemberships: await count("org_memberships"),
    users: await count("users"),
  };
}

const teamPermissions = async (key: string) => app.gql(key, `query($t: ID!) { viewerPermissions(on: $t) }`, { t: teamId });

describe("a mutation whose audit event cannot be written fails and changes nothing", () => {
  it.each([
    ["createTeam", () => app.gql(org.admin.key, `mutation($o: ID!) { createTeam(organizationId: $o, name: "Ghost") { id } }`, { o: org.orgId })],
    ["addTeamMember", () => app.gql(org.admin.key, `mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, principalId: $u, role: ADMIN) { role } }`, { t: teamId, u: outsider.userId })],
    ["grantEnvironmentAccess", () => app.gql(org.admin.key, `mutation($e: ID!, $u: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $u) { id } }`, { e: envId, u: outsider.userId })],
    ["createApiKey (a team key: it would return a secret)", () => app.gql(org.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "k", teamId: $t, type: FULL_ACCESS }) { secret } }`, { t: teamId })],
    ["createApiKey (a personal key: the security-log path)", () => app.gql(org.admin.key, `mutation { createApiKey(input: { name: "mine" }) { secret } }`)],
    ["createServiceAccount", () => app.gql(org.admin.key, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "bot", role: ADMIN) { secret } }`, { t: teamId })],
  ])("%s", async (_name, run) => {
    const before = await footprint();
    const result = await withAuditFault(run);
    expect(result.errors?.length).toBe(1);
    expect(result.data ?? null).toBeNull();
    expect(JSON.stringify(result)).not.toMatch(/og[pts]_/);
    expect(await footprint()).toEqual(before);
    // SpiceDB unchanged too: the outsider still sees nothing of the team.
    expect(codes(await teamPermissions(outsider.key))).toEqual(["NOT_FOUND"]);
  });

  it("acceptInvitation: no account, no membership, no key, and the invitation stays usable", async () => {
    const token = (await app.ok(org.admin.key, `mutation($o: ID!) { inviteMember(input: { organizationId: $o, email: "late@example.test", role: ADMIN, teams: [] }) { token } }`, { o: org.orgId })).inviteMember.token;
    const before = await footprint();
    const accept = () => app.gql(undefined, `mutation($t: String!) { acceptInvitation(token: $t) { secret user { id } } }`, { t: token });
    const failed = await withAuditFault(accept);
    expect(failed.errors?.length).toBe(1);
    expect(JSON.stringify(failed)).not.toMatch(/ogp_/);
    expect(await footprint()).toEqual(before);
    // Once the log can be written again, the same invitation works: nothing was consumed.
    expect((await accept()).data?.acceptInvitation.secret).toMatch(/^ogp_/);
  });

  it("when the change's transaction fails after its event was written (at commit), the failure is still recorded, as ERROR", async () => {
    const db = app.orgraph.deps.db;
    // Refuses, at commit, a SUCCESS event of this one action: the failed attempt's ERROR event passes.
    await sql`create function audit_fault_at_commit() returns trigger language plpgsql as $$
      begin
        if new.action = 'team.create' and new.result = 'SUCCESS' then raise exception 'injected: commit refused'; end if;
        return new;
      end; $$`.execute(db);
    await sql`create constraint trigger audit_fault_at_commit after insert on audit_events deferrable initially deferred
      for each row execute function audit_fault_at_commit()`.execute(db);
    try {
      const before = await footprint();
      const result = await app.gql(org.admin.key, `mutation($o: ID!) { createTeam(organizationId: $o, name: "Late refusal") { id } }`, { o: org.orgId });
      expect(result.errors?.length).toBe(1);
      expect(await footprint()).toEqual(before);
      const events = await db.selectFrom("audit_events").select(["result", "error"]).where("action", "=", "team.create").where("result", "!=", "SUCCESS").execute();
      expect(events).toEqual([{ result: "ERROR", error: "Unexpected error" }]);
    } finally {
      await sql`drop trigger audit_fault_at_commit on audit_events`.execute(db);
    }
  });

  it("once the audit log can be written, the same mutation succeeds and is recorded", async () => {
    const created = await app.ok(org.admin.key, `mutation($o: ID!) { createTeam(organizationId: $o, name: "Ghost") { id } }`, { o: org.orgId });
    const events = await app.orgraph.deps.db.selectFrom("audit_events").select("result").where("target_id", "=", created.createTeam.id).execute();
    expect(events).toEqual([{ result: "SUCCESS" }]);
  });
});
