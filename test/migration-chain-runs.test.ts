import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../src/db/connect.js";
import { down, up } from "../src/db/migrations/2026_11_25_0011_chain_runs.js";
import { createOrganizationIn } from "../src/modules/organization/organization.service.js";
import { findOrCreateUser } from "../src/modules/user/user.service.js";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";

/**
 * Migration 2026_11_25_0011_chain_runs on a database with chains and runs from before it:
 * their QUEUED runs stay valid (and get updated_at), each chain's current definition becomes
 * its version 1, and from then on the database refuses a status outside ChainRunStatus.
 */
let database: TestDatabase;
let handle: DatabaseHandle;

beforeAll(async () => {
  database = await createTestDatabase();
  handle = await openDatabase(database);
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

describe("migration 2026_11_25_0011_chain_runs", () => {
  it("keeps existing runs valid, backfills version 1 of every chain, and holds statuses to the enum", async () => {
    const db = handle.db;
    const { userId, teamId } = await db.transaction().execute(async (tx) => {
      const { user } = await findOrCreateUser(tx, "old-chains@example.test", { verified: true });
      const org = await createOrganizationIn(tx, "Old", user.id);
      const team = await tx.selectFrom("teams").select("id").where("org_id", "=", org.id).executeTakeFirstOrThrow();
      return { userId: user.id, teamId: team.id };
    });
    await down(db);
    // As before the migration: a chain and a queued run, written with the columns of that time.
    const created = new Date("2026-11-01T10:00:00Z");
    await sql`insert into chains (id, team_id, name, definition, created_by, created_at)
              values ('chn_000000000001aaaaaaaaaaaaaaaa', ${teamId}, 'old', '{"steps":[1]}', ${userId}, ${created})`.execute(db);
    await sql`insert into chain_runs (id, chain_id, status, input, started_by, created_at)
              values ('run_000000000001aaaaaaaaaaaaaaaa', 'chn_000000000001aaaaaaaaaaaaaaaa', 'QUEUED', null, ${userId}, ${created})`.execute(db);
    await up(db);

    const run = await db.selectFrom("chain_runs").selectAll().where("id", "=", "run_000000000001aaaaaaaaaaaaaaaa").executeTakeFirstOrThrow();
    expect(run).toMatchObject({ status: "QUEUED", result: null, pending_decision: null });
    expect(new Date(run.updated_at).toISOString()).toBe(created.toISOString());
    const versions = await db.selectFrom("chain_versions").selectAll().where("chain_id", "=", "chn_000000000001aaaaaaaaaaaaaaaa").execute();
    expect(versions).toEqual([{ chain_id: "chn_000000000001aaaaaaaaaaaaaaaa", version: 1, definition: { steps: [1] }, changed_by: userId, created_at: expect.any(Date) }]);
    await expect(sql`update chain_runs set status = 'PAUSED' where id = 'run_000000000001aaaaaaaaaaaaaaaa'`.execute(db)).rejects.toThrow(/chain_runs_status/);
  });
});
