import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ConsistencyTracker } from "../src/authz/consistency.js";
import { ref, type Relationship } from "../src/authz/model.js";
import { insertRelationships, queueInOutbox } from "../src/authz/relationship.repository.js";
import { writeRelationships } from "../src/authz/relationship-writes.js";
import { newId } from "../src/ids.js";
import { startTestApp, type TestApp } from "./helpers/app.js";

/**
 * Expiring relationships (just-in-time access) at the level of the relationship record: the
 * upsert never turns a standing relationship into an expiring one, the stamp names every
 * expiry twice (at its instant and once a remote SpiceDB's clock may have caught up), and the
 * sweep drops expired rows with SpiceDB following.
 */
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
  // The tests flush by hand: a pending key must stay pending until they say so.
  app.orgraph.deps.outbox.stop();
}, 60_000);
afterAll(() => app?.close());
afterEach(() => vi.useRealTimers());

const operator = (userId: string, expiresAt?: Date): Relationship => ({
  resource: ref("team", newId("Team")),
  relation: "operator",
  subject: ref("user", userId),
  ...(expiresAt ? { expiresAt } : {}),
});
const recorded = (r: Relationship) =>
  app.orgraph.deps.db.selectFrom("authz_relationships").select("expires_at").where("resource_id", "=", r.resource.id).where("subject_id", "=", r.subject.id).execute();
const inSpiceDb = async (r: Relationship) =>
  (await app.orgraph.deps.authzClient.readRelationships("team")).filter((t) => t.resource.id === r.resource.id && t.subject.id === r.subject.id);
const write = (relationships: Relationship[]) => app.orgraph.deps.db.transaction().execute((tx) => writeRelationships(tx, {}, { add: relationships }));
const FAR = new Date("2200-01-01T00:00:00Z");

describe("the relationship upsert", () => {
  it("keeps a standing relationship standing when the same key is written with an expiry (a race with an approval)", async () => {
    const standing = operator(newId("User"));
    await write([standing]);
    await write([{ ...standing, expiresAt: FAR }]);
    expect(await recorded(standing)).toEqual([{ expires_at: null }]);
    // The applier writes what the record holds: SpiceDB keeps it without an expiry.
    await app.orgraph.deps.outbox.flush();
    const tuples = await inSpiceDb(standing);
    expect(tuples).toHaveLength(1);
    expect(tuples[0]!.expiresAt).toBeUndefined();
  });

  it("makes an expiring relationship standing when the key is written without one, and takes a new expiry over an old one", async () => {
    const expiring = operator(newId("User"), FAR);
    await write([expiring]);
    expect(await recorded(expiring)).toEqual([{ expires_at: FAR }]);
    const later = new Date(FAR.getTime() + 60_000);
    await write([{ ...expiring, expiresAt: later }]);
    expect(await recorded(expiring)).toEqual([{ expires_at: later }]);
    const { expiresAt: _dropped, ...standing } = expiring;
    await write([standing]);
    expect(await recorded(expiring)).toEqual([{ expires_at: null }]);
    await app.orgraph.deps.outbox.flush();
    expect((await inSpiceDb(expiring))[0]!.expiresAt).toBeUndefined();
  });
});

describe("the stamp's expiry part, with a clock skew", () => {
  it("changes at an expiry's instant T and again at T + skew, not in between", async () => {
    const db = app.orgraph.deps.db;
    // Sooner than anything else this file records (FAR), so it is the next expiry.
    const T = new Date("2100-06-01T12:00:00Z");
    await db.transaction().execute((tx) => insertRelationships(tx, {}, [operator(newId("User"), T)]));
    const skew = 5_000;
    const tracker = new ConsistencyTracker(undefined, db, skew);
    vi.useFakeTimers({ toFake: ["Date"] });
    const at = async (ms: number) => {
      vi.setSystemTime(new Date(T.getTime() + ms));
      return (await tracker.forRequest()).stamp;
    };
    const before = await at(-1);
    const justAfter = await at(0);
    const withinSkew = await at(skew - 1);
    const afterSkew = await at(skew);
    expect(before).toBe(`local:0|e${T.getTime()}`);
    expect(justAfter).toBe(`local:0|e${T.getTime() + skew}`);
    expect(withinSkew).toBe(justAfter);
    expect(afterSkew).not.toBe(justAfter);
    expect(afterSkew).not.toBe(before);
  });

  it("with no skew, one boundary per expiry", async () => {
    const db = app.orgraph.deps.db;
    const T = new Date("2100-07-01T12:00:00Z");
    await db.transaction().execute((tx) => insertRelationships(tx, {}, [operator(newId("User"), T)]));
    const tracker = new ConsistencyTracker(undefined, db, 0);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(T.getTime() - 1));
    expect((await tracker.forRequest()).stamp).toBe(`local:0|e${T.getTime()}`);
    vi.setSystemTime(T);
    expect((await tracker.forRequest()).stamp).not.toContain(`e${T.getTime()}`);
  });
});

describe("the sweep of expired relationships", () => {
  it("drops expired rows, and SpiceDB ends with no such tuple, also for a key whose outbox entry was still pending", async () => {
    const db = app.orgraph.deps.db;
    const ends = new Date(Date.now() + 1_500);
    const applied = operator(newId("User"), ends);
    await write([applied]);
    await app.orgraph.deps.outbox.flush();
    expect(await inSpiceDb(applied)).toHaveLength(1);
    // Recorded and queued, not yet applied (as after a failed flush).
    const pending = { ...applied, subject: ref("user", newId("User")) };
    await db.transaction().execute(async (tx) => {
      await insertRelationships(tx, {}, [pending]);
      await queueInOutbox(tx, [pending]);
    });
    const live = operator(newId("User"), FAR);
    await write([live]);
    while (Date.now() <= ends.getTime()) await new Promise((resolve) => setTimeout(resolve, 100));

    expect(await app.orgraph.deps.outbox.sweepExpired()).toBe(2);
    expect(await recorded(applied)).toEqual([]);
    expect(await recorded(pending)).toEqual([]);
    expect(await recorded(live)).toEqual([{ expires_at: FAR }]);
    expect(await inSpiceDb(applied)).toEqual([]);
    expect(await inSpiceDb(pending)).toEqual([]);
    expect(await inSpiceDb(live)).toHaveLength(1);
    expect(await db.selectFrom("authz_outbox").select("id").execute()).toEqual([]);
    expect(await db.selectFrom("authz_relationships").select("resource_id").where("expires_at", "<=", new Date()).execute()).toEqual([]);
  }, 30_000);
});
