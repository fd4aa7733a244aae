import { sql, type ExpressionBuilder } from "kysely";
import type { Database, Db, Row, Tx } from "../db/database.js";
import type { ObjectRef, Relationship } from "./model.js";

/**
 * Every query on the relationship record (`authz_relationships`), its outbox
 * (`authz_outbox`) and the shared SpiceDB state (`authz_state`). The jobs built on them:
 * relationship-writes.ts (the write path), outbox-applier.ts (SpiceDB follows the record),
 * consistency.ts (which snapshot a request reads).
 */

type KeyRow = Omit<Row<"authz_outbox">, "id" | "created_at">;
type RecordRow = KeyRow & Pick<Row<"authz_relationships">, "caveat_name" | "caveat_context" | "expires_at">;

/** Where a relationship belongs: lets removals by organization or team find it. */
export interface RelationshipOwner {
  orgId?: string;
  teamId?: string;
}

/** The key columns (what the outbox queues, what identifies a relationship). */
export function keyRow(r: Relationship): KeyRow {
  return {
    resource_type: r.resource.type,
    resource_id: r.resource.id,
    relation: r.relation,
    subject_type: r.subject.type,
    subject_id: r.subject.id,
    subject_relation: r.subjectRelation ?? "",
  };
}

/** The caveat and expiration columns as written (JSON text for the jsonb column; null without a caveat, or an expiration). */
const caveatColumns = (r: Relationship) => ({
  caveat_name: r.caveat?.name ?? null,
  caveat_context: r.caveat ? JSON.stringify(r.caveat.context) : null,
  expires_at: r.expiresAt ?? null,
});

export function fromRow(row: KeyRow & Partial<Pick<RecordRow, "caveat_name" | "caveat_context" | "expires_at">>): Relationship {
  return {
    resource: { type: row.resource_type, id: row.resource_id },
    relation: row.relation,
    subject: { type: row.subject_type, id: row.subject_id },
    ...(row.subject_relation ? { subjectRelation: row.subject_relation } : {}),
    ...(row.caveat_name ? { caveat: { name: row.caveat_name, context: row.caveat_context ?? {} } } : {}),
    ...(row.expires_at ? { expiresAt: new Date(row.expires_at) } : {}),
  };
}

/**
 * A recorded relationship counts until its `expires_at` (SpiceDB ignores it from that instant
 * on): every read of the record skips an expired row, so what Orgraph reads — removals, drift,
 * the refill at start — is what SpiceDB enforces.
 */
const live = (now = new Date()) => (eb: ExpressionBuilder<Database, "authz_relationships">) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]);

/** Records the relationships; a key already recorded takes the new caveat (a new allowlist's CIDRs, say) and the new expiry, unless it stands for good. */
export async function insertRelationships(tx: Tx, owner: RelationshipOwner, relationships: Relationship[]): Promise<void> {
  if (relationships.length === 0) return;
  const rows = relationships.map((r) => ({ ...keyRow(r), ...caveatColumns(r), org_id: owner.orgId ?? null, team_id: owner.teamId ?? null }));
  await tx
    .insertInto("authz_relationships")
    .values(rows)
    .onConflict((oc) =>
      oc
        .columns(["resource_type", "resource_id", "relation", "subject_type", "subject_id", "subject_relation"])
        .doUpdateSet((eb) => ({
          caveat_name: eb.ref("excluded.caveat_name"),
          caveat_context: eb.ref("excluded.caveat_context"),
          // Never turn a standing relationship into an expiring one (an approval racing a direct
          // grant); a standing write does make an expiring one standing. The applier writes to
          // SpiceDB what the record holds after this (readOutboxBatch joins the record).
          expires_at: sql<Date | null>`CASE WHEN authz_relationships.expires_at IS NULL THEN NULL ELSE excluded.expires_at END`,
        })),
    )
    .execute();
}

export async function deleteRelationship(tx: Tx, relationship: Relationship): Promise<void> {
  const row = keyRow(relationship);
  await tx
    .deleteFrom("authz_relationships")
    .where("resource_type", "=", row.resource_type)
    .where("resource_id", "=", row.resource_id)
    .where("relation", "=", row.relation)
    .where("subject_type", "=", row.subject_type)
    .where("subject_id", "=", row.subject_id)
    .where("subject_relation", "=", row.subject_relation)
    .execute();
}

/** Queues keys for the applier, in the change's own transaction. */
export async function queueInOutbox(tx: Tx, relationships: Relationship[]): Promise<void> {
  if (relationships.length > 0) await tx.insertInto("authz_outbox").values(relationships.map(keyRow)).execute();
}

export interface RelationshipFilter {
  orgId?: string;
  teamId?: string;
  resource?: ObjectRef;
  relations?: string[];
  subject?: ObjectRef;
}

/** The recorded relationships matching every given condition (to remove them, typically). */
export async function findRelationships(tx: Tx | Db, filter: RelationshipFilter): Promise<Relationship[]> {
  let query = tx.selectFrom("authz_relationships").selectAll().where(live());
  if (filter.orgId) query = query.where("org_id", "=", filter.orgId);
  if (filter.teamId) query = query.where("team_id", "=", filter.teamId);
  if (filter.resource) {
    query = query.where("resource_type", "=", filter.resource.type).where("resource_id", "=", filter.resource.id);
  }
  if (filter.relations) query = query.where("relation", "in", filter.relations);
  if (filter.subject) {
    query = query.where("subject_type", "=", filter.subject.type).where("subject_id", "=", filter.subject.id);
  }
  return (await query.execute()).map(fromRow);
}

/** The whole record (refilling an in-memory SpiceDB, comparing for drift). */
export async function allRelationships(db: Db): Promise<Relationship[]> {
  return (await db.selectFrom("authz_relationships").selectAll().where(live()).execute()).map(fromRow);
}

/**
 * The soonest boundary after `now` (consistency.ts: caches end there), or null: each recorded
 * expiry T is two, T and T + `skewMs` (SpiceDB's clock may lag ours by that much).
 */
export async function nextExpiry(db: Db, now: Date, skewMs = 0): Promise<Date | null> {
  const row = await db
    .selectFrom("authz_relationships")
    .select(sql<Date | string | null>`min(CASE WHEN expires_at > ${now} THEN expires_at ELSE expires_at + ${skewMs}::int * interval '1 millisecond' END)`.as("next"))
    // T + skew > now (on the index of expires_at).
    .where("expires_at", ">", new Date(now.getTime() - skewMs))
    .executeTakeFirst();
  return row?.next ? new Date(row.next) : null;
}

/**
 * Drops recorded relationships that expired by `now` (SpiceDB already ignores them) and queues
 * their keys, so SpiceDB drops them too (an absent key is a delete: readOutboxBatch); a key
 * queued earlier and still pending ends the same way. Keeps the record bounded.
 */
export async function deleteExpiredRelationships(tx: Tx, now: Date): Promise<number> {
  const rows = await tx
    .deleteFrom("authz_relationships")
    .where("expires_at", "<=", now)
    .returning(["resource_type", "resource_id", "relation", "subject_type", "subject_id", "subject_relation"])
    .execute();
  if (rows.length > 0) await tx.insertInto("authz_outbox").values(rows).execute();
  return rows.length;
}

// Serializes appliers across processes that share one Postgres (arbitrary constant: "orgraph").
const APPLY_LOCK = 0x6f7267;

export async function takeApplyLock(tx: Tx): Promise<void> {
  await sql`select pg_advisory_xact_lock(${APPLY_LOCK})`.execute(tx);
}

/** Queued keys, oldest first, each with whether the record holds it now (`present`) and, if so, with the record's caveat. */
export async function readOutboxBatch(tx: Tx, limit: number): Promise<{ id: string; relationship: Relationship; present: boolean }[]> {
  const rows = await tx
    .selectFrom("authz_outbox as o")
    .leftJoin("authz_relationships as r", (join) =>
      join
        .onRef("r.resource_type", "=", "o.resource_type")
        .onRef("r.resource_id", "=", "o.resource_id")
        .onRef("r.relation", "=", "o.relation")
        .onRef("r.subject_type", "=", "o.subject_type")
        .onRef("r.subject_id", "=", "o.subject_id")
        .onRef("r.subject_relation", "=", "o.subject_relation")
        // An expired row is absent: the applier deletes the key from SpiceDB.
        .on((eb) => eb.or([eb("r.expires_at", "is", null), eb("r.expires_at", ">", new Date())])),
    )
    .select([
      "o.id", "o.resource_type", "o.resource_id", "o.relation", "o.subject_type", "o.subject_id", "o.subject_relation",
      "r.resource_type as present", "r.caveat_name", "r.caveat_context", "r.expires_at",
    ])
    .orderBy("o.id")
    .limit(limit)
    .execute();
  return rows.map((row) => ({ id: String(row.id), relationship: fromRow(row), present: row.present !== null }));
}

export async function deleteFromOutbox(tx: Tx, ids: string[]): Promise<void> {
  if (ids.length > 0) await tx.deleteFrom("authz_outbox").where("id", "in", ids).execute();
}

/** How many changes wait for SpiceDB, and for how long the oldest has (Postgres's clock, shared by every process). */
export async function outboxBacklog(db: Db): Promise<{ depth: number; oldestAgeSeconds: number }> {
  const row = await db
    .selectFrom("authz_outbox")
    .select([
      sql<string>`count(*)`.as("depth"),
      sql<string | null>`extract(epoch from now() - min(created_at))`.as("age"),
    ])
    .executeTakeFirstOrThrow();
  return { depth: Number(row.depth), oldestAgeSeconds: Math.max(0, Number(row.age ?? 0)) };
}

export async function clearOutbox(db: Db): Promise<void> {
  await db.deleteFrom("authz_outbox").execute();
}

/** The token of the last SpiceDB write any process shared, and the revision every change bumps. */
export async function readAuthzState(db: Db) {
  return db.selectFrom("authz_state").select(["zed_token", "revision"]).where("id", "=", 1).executeTakeFirst();
}

export async function bumpRevision(tx: Tx): Promise<void> {
  await tx
    .insertInto("authz_state")
    .values({ id: 1, zed_token: "", revision: 1 })
    .onConflict((oc) => oc.column("id").doUpdateSet({ revision: sql<number>`authz_state.revision + 1` }))
    .execute();
}

export async function shareToken(tx: Tx, token: string): Promise<void> {
  if (!token) return;
  await tx
    .insertInto("authz_state")
    .values({ id: 1, zed_token: token })
    .onConflict((oc) => oc.column("id").doUpdateSet({ zed_token: token }))
    .execute();
}
