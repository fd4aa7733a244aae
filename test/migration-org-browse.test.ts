import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../src/db/connect.js";
import { up } from "../src/db/migrations/2026_11_25_0008_org_browse.js";
import { findOrCreateUser } from "../src/modules/user/user.service.js";
import { createOrganizationIn } from "../src/modules/organization/organization.service.js";
import { insertTeam } from "../src/modules/team/team.repository.js";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";

/**
 * Migration 2026_11_25_0008_org_browse backfills organization#team and team#default_of for
 * organizations that existed before them: exactly the rows a new organization gets, in the
 * durable record and in the outbox (which carries them to SpiceDB).
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

const BACKFILLED = ["organization#team", "team#default_of"];

async function backfilledRows(table: "authz_relationships" | "authz_outbox") {
  const rows = await handle.db.selectFrom(table).select(["resource_type", "resource_id", "relation", "subject_type", "subject_id", "subject_relation"]).execute();
  return rows
    .filter((r) => BACKFILLED.includes(`${r.resource_type}#${r.relation}`))
    .map((r) => `${r.resource_type}:${r.resource_id}#${r.relation}@${r.subject_type}:${r.subject_id}`)
    .sort();
}

describe("migration 2026_11_25_0008_org_browse", () => {
  it("writes, for existing organizations, the relationships a new one gets, into the record and the outbox", async () => {
    const { orgId, extraTeam } = await handle.db.transaction().execute(async (tx) => {
      const { user } = await findOrCreateUser(tx, "founder@example.test", { verified: true });
      const org = await createOrganizationIn(tx, "Old", user.id);
      const team = await insertTeam(tx, { orgId: org.id, name: "Second", isDefault: false });
      return { orgId: org.id, extraTeam: team.id };
    });
    const defaultTeam = (await handle.db.selectFrom("teams").select("id").where("org_id", "=", orgId).where("is_default", "=", true).executeTakeFirstOrThrow()).id;
    // What createOrganizationIn writes today, for the default team:
    const written = await backfilledRows("authz_relationships");
    expect(written).toEqual([`organization:${orgId}#team@team:${defaultTeam}`, `team:${defaultTeam}#default_of@organization:${orgId}`].sort());

    // As before the migration: none of them anywhere.
    await handle.db
      .deleteFrom("authz_relationships")
      .where((eb) => eb.or([eb.and([eb("resource_type", "=", "organization"), eb("relation", "=", "team")]), eb("relation", "=", "default_of")]))
      .execute();
    await handle.db.deleteFrom("authz_outbox").execute();
    await up(handle.db);

    const expected = [...written, `organization:${orgId}#team@team:${extraTeam}`].sort();
    expect(await backfilledRows("authz_relationships")).toEqual(expected);
    expect(await backfilledRows("authz_outbox")).toEqual(expected);
    const owners = await handle.db.selectFrom("authz_relationships").select(["org_id", "team_id", "subject_id", "resource_id"]).where("resource_type", "=", "organization").where("relation", "=", "team").execute();
    expect(owners).toHaveLength(2);
    for (const owner of owners) expect(owner.org_id).toBe(orgId);
  });
});
