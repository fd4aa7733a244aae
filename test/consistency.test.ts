import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { findDrift, repairDrift } from "../src/authz/drift.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";
import { FaultyAuthz } from "./helpers/faulty-authz.js";
import { authorize } from "./helpers/gateway.js";

/**
 * PRODUCT.md §10: Postgres and SpiceDB converge after any failure, a revocation is never
 * acknowledged before SpiceDB enforces it, and SpiceDB being down fails every request closed.
 */
const faults = new FaultyAuthz();
let app: TestApp;
let org: SeededOrg;
let teamId: string;

beforeAll(async () => {
  app = await startTestApp({ wrapAuthzClient: faults.wrap });
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Fragile");
  // The background flush would heal faults behind the test's back; these tests flush by hand.
  app.orgraph.deps.outbox.stop();
});
afterAll(() => app?.close());
beforeEach(() => faults.heal());

const add = `mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, principalId: $u, role: MEMBER) { role } }`;
const remove = `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`;
const canSee = async (key: string) => codes(await app.gql(key, `query($t: ID!) { team(id: $t) { name } }`, { t: teamId })).length === 0;
const drift = async () => {
  const found = await findDrift(app.orgraph.deps.db, faults.inner);
  return found.missing.length + found.extra.length;
};
const outbox = async () => (await app.orgraph.deps.db.selectFrom("authz_outbox").select("id").execute()).length;

/** A new member, and `change` made for them while SpiceDB's write fails as `fault` says: the caller hears AUTHZ_UNAVAILABLE. */
async function changeWhileFailing(name: string, fault: "before" | "after", change: string, teams: { teamId: string; role: "MEMBER" }[] = []) {
  const user = await app.seed.member(org, "MEMBER", teams, name);
  faults.write_ = fault;
  expect(codes(await app.gql(org.admin.key, change, { t: teamId, u: user.userId }))).toEqual(["AUTHZ_UNAVAILABLE"]);
  return user;
}

describe("fault injection on the write path", () => {
  it("SpiceDB failing before the write: the caller hears AUTHZ_UNAVAILABLE, the grant waits in the outbox, the next flush applies it", async () => {
    const user = await changeWhileFailing("before", "before", add);
    expect(await outbox()).toBeGreaterThan(0);
    expect(await drift()).toBe(1);
    faults.heal();
    expect(await canSee(user.key)).toBe(false);
    await app.orgraph.deps.outbox.flush();
    expect(await outbox()).toBe(0);
    expect(await drift()).toBe(0);
    expect(await canSee(user.key)).toBe(true);
  });

  it("the background flush applies what a failed flush left behind, by itself", async () => {
    const user = await changeWhileFailing("background", "before", add);
    faults.heal();
    app.orgraph.deps.outbox.startBackgroundFlush(20);
    try {
      for (let waited = 0; (await outbox()) > 0 && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      app.orgraph.deps.outbox.stop();
    }
    expect(await outbox()).toBe(0);
    expect(await canSee(user.key)).toBe(true);
  });

  it("a revocation SpiceDB has not applied is never acknowledged", async () => {
    const user = await changeWhileFailing("revoked", "before", remove, [{ teamId, role: "MEMBER" }]);
    faults.heal();
    await app.orgraph.deps.outbox.flush();
    expect(await canSee(user.key)).toBe(false);
    expect(await drift()).toBe(0);
  });

  it("SpiceDB applying the write but the answer being lost: re-applying is harmless", async () => {
    const user = await changeWhileFailing("during", "after", add);
    expect(await drift()).toBe(0);
    expect(await outbox()).toBeGreaterThan(0);
    faults.heal();
    await app.orgraph.deps.outbox.flush();
    expect(await outbox()).toBe(0);
    expect(await canSee(user.key)).toBe(true);
  });

  it("Postgres failing after SpiceDB applied: the outbox is kept and applied again, idempotently", async () => {
    const db = app.orgraph.deps.db;
    const user = await app.seed.member(org, "MEMBER", [], "pg-after");
    await sql`create function refuse_outbox_delete() returns trigger language plpgsql as $$ begin raise exception 'injected: Postgres failed'; end; $$`.execute(db);
    await sql`create trigger refuse_outbox_delete before delete on authz_outbox for each row execute function refuse_outbox_delete()`.execute(db);
    try {
      expect(codes(await app.gql(org.admin.key, add, { t: teamId, u: user.userId }))).toEqual(["AUTHZ_UNAVAILABLE"]);
      expect(await outbox()).toBeGreaterThan(0);
    } finally {
      await sql`drop trigger refuse_outbox_delete on authz_outbox`.execute(db);
      await sql`drop function refuse_outbox_delete`.execute(db);
    }
    await app.orgraph.deps.outbox.flush();
    expect(await outbox()).toBe(0);
    expect(await drift()).toBe(0);
    expect(await canSee(user.key)).toBe(true);
  });
});

describe("fail closed", () => {
  it("while SpiceDB cannot answer: AUTHZ_UNAVAILABLE, /readyz 503, /v1/authorize 503; then it resumes by itself", async () => {
    await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId });
    await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId });
    const key = (await app.ok(org.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "k", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: teamId })).createApiKey.secret;
    const body = { action: "model:invoke", model: "m", environment: "prod" };

    faults.reads = "fail";
    expect(codes(await app.gql(org.admin.key, `query($t: ID!) { team(id: $t) { name } }`, { t: teamId }))).toEqual(["AUTHZ_UNAVAILABLE"]);
    expect(codes(await app.gql(org.admin.key, `{ viewer { teams { id } } }`))).toEqual(["AUTHZ_UNAVAILABLE"]);
    expect(codes(await app.gql(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "x") { id } }`, { t: teamId }))).toEqual(["AUTHZ_UNAVAILABLE"]);
    expect((await app.fetch("/readyz")).status).toBe(503);
    expect(await authorize(app, key, body)).toMatchObject({ status: 503, body: { allowed: false } });

    faults.heal();
    expect((await app.fetch("/readyz")).status).toBe(200);
    expect((await authorize(app, key, body)).status).toBe(200);
    expect(await canSee(org.admin.key)).toBe(true);
  });
});

describe("drift", () => {
  it("is found both ways and repaired to the record", async () => {
    const client = faults.inner;
    const stray = { resource: { type: "team", id: teamId }, relation: "admin", subject: { type: "user", id: "usr_0000000000000000000000000000" } };
    const recorded = (await app.orgraph.deps.db.selectFrom("authz_relationships").selectAll().where("relation", "=", "org").where("resource_id", "=", teamId).executeTakeFirstOrThrow());
    const lost = { resource: { type: "team", id: teamId }, relation: "org", subject: { type: "organization", id: recorded.subject_id } };
    await client.write([{ operation: "touch", relationship: stray }, { operation: "delete", relationship: lost }]);
    const found = await findDrift(app.orgraph.deps.db, client);
    expect(found.extra).toEqual([stray]);
    expect(found.missing).toEqual([lost]);
    const revision = async () =>
      Number((await app.orgraph.deps.db.selectFrom("authz_state").select("revision").executeTakeFirst())?.revision ?? 0);
    const before = await revision();
    await repairDrift(app.orgraph.deps.db, client, found);
    expect(await drift()).toBe(0);
    // The repair moves the shared stamp: no API process keeps answers cached before it.
    expect(await revision()).toBe(before + 1);
  });
});
