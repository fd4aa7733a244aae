import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type DatabaseHandle } from "../src/db/connect.js";
import { down, up } from "../src/db/migrations/2026_12_03_0013_ip_allowlists.js";
import { findOrCreateUser } from "../src/modules/user/user.service.js";
import { createOrganizationIn } from "../src/modules/organization/organization.service.js";
import { insertTeam } from "../src/modules/team/team.repository.js";
import { admitScopesWithoutWildcards } from "../src/modules/ip-allowlist/ip-allowlist.service.js";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";

/**
 * Migration 2026_12_03_0013_ip_allowlists: spicedb/schema.zed lets nobody into an organization
 * or team without its `ip_allowed` wildcards, so the migration writes them (uncaveated: no list
 * yet) for every existing one — exactly the rows a new one gets — into the durable record and the
 * outbox (which carries them to a remote SpiceDB at the next start).
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

async function wildcardRows(table: "authz_relationships" | "authz_outbox") {
  const rows = await handle.db.selectFrom(table).select(["resource_type", "resource_id", "relation", "subject_type", "subject_id"]).where("relation", "=", "ip_allowed").execute();
  return rows.map((r) => `${r.resource_type}:${r.resource_id}#${r.relation}@${r.subject_type}:${r.subject_id}`).sort();
}

describe("migration 2026_12_03_0013_ip_allowlists", () => {
  it("writes, for existing organizations and teams, the ip_allowed wildcards a new one gets, into the record and the outbox", async () => {
    const { orgId, extraTeam } = await handle.db.transaction().execute(async (tx) => {
      const { user } = await findOrCreateUser(tx, "founder@example.test", { verified: true });
      const org = await createOrganizationIn(tx, "Old", user.id);
      // A team made without the team service: as if it predated the wildcards.
      const team = await insertTeam(tx, { orgId: org.id, name: "Second", isDefault: false });
      return { orgId: org.id, extraTeam: team.id };
    });
    const defaultTeam = (await handle.db.selectFrom("teams").select("id").where("org_id", "=", orgId).where("is_default", "=", true).executeTakeFirstOrThrow()).id;
    const expected = ["organization", "team", "team"].flatMap((type, i) =>
      ["api_key", "service_account", "user"].map((subject) => `${type}:${[orgId, defaultTeam, extraTeam][i]}#ip_allowed@${subject}:*`),
    ).sort();
    // What createOrganizationIn writes today: the organization's and its default team's.
    expect(await wildcardRows("authz_relationships")).toEqual(expected.filter((row) => !row.includes(extraTeam)));

    // As before the migration (down removes them and queues their deletion), then up again.
    await down(handle.db);
    expect(await wildcardRows("authz_relationships")).toEqual([]);
    await handle.db.deleteFrom("authz_outbox").execute();
    await up(handle.db);

    expect(await wildcardRows("authz_relationships")).toEqual(expected);
    expect(await wildcardRows("authz_outbox")).toEqual(expected);
    const caveats = await handle.db.selectFrom("authz_relationships").select(["caveat_name", "org_id", "team_id", "resource_id"]).where("relation", "=", "ip_allowed").execute();
    expect(caveats.every((r) => r.caveat_name === null && r.org_id === orgId && (r.resource_id === orgId ? r.team_id === null : r.team_id === r.resource_id))).toBe(true);
  });

  it("at every start, an organization or team without wildcards (made by the previous version during a rolling deploy) gets them; caveated ones are kept", async () => {
    const org = await handle.db.transaction().execute(async (tx) => {
      const { user } = await findOrCreateUser(tx, "rolling@example.test", { verified: true });
      return createOrganizationIn(tx, "Rolling", user.id);
    });
    const latecomer = await handle.db.transaction().execute((tx) => insertTeam(tx, { orgId: org.id, name: "Made by the old version", isDefault: false }));
    const caveat = JSON.stringify({ cidrs: ["10.0.0.0/8"] });
    await handle.db.updateTable("authz_relationships").set({ caveat_name: "ip_allowlist", caveat_context: caveat }).where("resource_id", "=", org.id).where("relation", "=", "ip_allowed").execute();
    await handle.db.deleteFrom("authz_outbox").execute();
    expect(await admitScopesWithoutWildcards(handle.db)).toBe(3);
    expect((await wildcardRows("authz_outbox")).sort()).toEqual(["api_key", "service_account", "user"].map((s) => `team:${latecomer.id}#ip_allowed@${s}:*`));
    const kept = await handle.db.selectFrom("authz_relationships").select("caveat_context").where("resource_id", "=", org.id).where("relation", "=", "ip_allowed").execute();
    expect(kept.map((r) => r.caveat_context)).toEqual([{ cidrs: ["10.0.0.0/8"] }, { cidrs: ["10.0.0.0/8"] }, { cidrs: ["10.0.0.0/8"] }]);
    expect(await admitScopesWithoutWildcards(handle.db)).toBe(0);
  });

  it("a scope that has a list and lost its wildcards gets them back with that list's caveat, never open", async () => {
    const org = await handle.db.transaction().execute(async (tx) => {
      const { user } = await findOrCreateUser(tx, "listed@example.test", { verified: true });
      return createOrganizationIn(tx, "Listed", user.id);
    });
    await handle.db.insertInto("ip_allowlists").values({ scope_id: org.id, org_id: org.id, team_id: null, cidrs: JSON.stringify(["192.0.2.0/24"]), updated_by: null, updated_at: new Date() }).execute();
    await handle.db.deleteFrom("authz_relationships").where("resource_id", "=", org.id).where("relation", "=", "ip_allowed").execute();
    expect(await admitScopesWithoutWildcards(handle.db)).toBe(3);
    const back = await handle.db.selectFrom("authz_relationships").select(["caveat_name", "caveat_context"]).where("resource_id", "=", org.id).where("relation", "=", "ip_allowed").execute();
    expect(back).toEqual([0, 1, 2].map(() => ({ caveat_name: "ip_allowlist", caveat_context: { cidrs: ["192.0.2.0/24"] } })));
  });
});
