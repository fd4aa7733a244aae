import { sql } from "kysely";
import type { Db, Row, Tx } from "../db/database.js";
import type { Logger } from "../logger.js";
import type { AuthzClient, Consistency, RelationshipUpdate } from "./client.js";
import { relationshipKey, type ObjectRef, type Relationship } from "./model.js";

/**
 * The one write path for relationships.
 *
 * 1. Inside the domain change's own Postgres transaction, `writeRelationships` changes the
 *    durable record (`authz_relationships`) and queues every key it touched in `authz_outbox`.
 *    Postgres is the source of truth: a crash at any later point loses nothing.
 * 2. After the commit and before the mutation is acknowledged, `RelationshipSync.flush()`
 *    makes SpiceDB equal the record for every queued key: TOUCH where the record has the
 *    relationship, DELETE where it does not. Because it applies *state*, not operations, the
 *    order in which queued keys are applied never matters and applying twice is harmless.
 *    If SpiceDB is down the mutation reports AUTHZ_UNAVAILABLE: a revocation is never
 *    acknowledged before SpiceDB enforces it.
 * 3. Whatever was not applied (a crash between commit and flush, SpiceDB down) is applied by
 *    the next flush: at start, by the background timer, or by the next mutation.
 */

const OUTBOX_BATCH = 500; // SpiceDB accepts up to 1,000 updates per write; keys may need one each.
// Serializes appliers across processes that share one Postgres (arbitrary constant: "orgraph").
const APPLY_LOCK = 0x6f7267;

/** Where a relationship belongs: lets removals by organization or team find it. */
export interface RelationshipOwner {
  orgId?: string;
  teamId?: string;
}

export async function writeRelationships(
  tx: Tx,
  owner: RelationshipOwner,
  change: { add?: Relationship[]; remove?: Relationship[] },
): Promise<void> {
  const add = dedupe(change.add ?? []).map((r) => ({ ...toKey(r), org_id: owner.orgId ?? null, team_id: owner.teamId ?? null }));
  // A key both removed and added (re-setting the same role) stays.
  const added = new Set((change.add ?? []).map(relationshipKey));
  const remove = dedupe(change.remove ?? [])
    .filter((r) => !added.has(relationshipKey(r)))
    .map(toKey);
  if (add.length > 0) {
    await tx.insertInto("authz_relationships").values(add).onConflict((oc) => oc.doNothing()).execute();
  }
  for (const row of remove) {
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
  const queued = [...add.map(({ org_id: _o, team_id: _t, ...key }) => key), ...remove];
  if (queued.length > 0) await tx.insertInto("authz_outbox").values(queued).execute();
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
  let query = tx.selectFrom("authz_relationships").selectAll();
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

/** What a request reads SpiceDB at, and the stamp its cached answers are valid for (stamped-cache.ts). */
export interface Snapshot {
  consistency: Consistency;
  stamp: string;
}

/**
 * Which snapshot reads use, so that no read is older than an acknowledged write, and which
 * stamp names the state a request starts from.
 *
 * - Embedded SpiceDB: one process writes and reads; the token of its last write suffices, and
 *   the stamp is a counter of this process's commits and SpiceDB writes.
 * - Remote SpiceDB, several API processes: every write's token is also stored in Postgres
 *   (authz_state) in the transaction that clears the outbox, and every change's own
 *   transaction bumps `revision` there, both before the change is acknowledged; each request
 *   reads that row once (`forRequest`). A request that starts after a revocation was
 *   acknowledged, in any process, therefore reads a snapshot that has it and a stamp under
 *   which nothing older was cached.
 */
export class ConsistencyTracker {
  private token: string | undefined;
  private generation = 0;

  constructor(private readonly shared?: Db) {}

  /** SpiceDB acknowledged a write (token may be empty if it did not say). */
  advance(token: string): void {
    if (token) this.token = token;
    this.generation++;
  }

  /** Inside a change's transaction: with a shared Postgres, committing it moves every process's stamp. */
  async changing(tx: Tx): Promise<void> {
    if (this.shared) await bumpRevision(tx);
  }

  /** After a change committed, before it is acknowledged: this process's stamp moves. */
  changed(): void {
    this.generation++;
  }

  /** At least as fresh as this process's last write; with no write yet, the newest snapshot. */
  current(): Consistency {
    return this.token ? { kind: "atLeastAsFresh", token: this.token } : { kind: "full" };
  }

  /** The snapshot for one request: with a shared Postgres, at least as fresh as any process's last write. */
  async forRequest(): Promise<Snapshot> {
    if (!this.shared) return { consistency: this.current(), stamp: `local:${this.generation}` };
    const row = await this.shared.selectFrom("authz_state").select(["zed_token", "revision"]).where("id", "=", 1).executeTakeFirst();
    if (!row) return { consistency: { kind: "full" }, stamp: "none" };
    return {
      consistency: row.zed_token ? { kind: "atLeastAsFresh", token: row.zed_token } : { kind: "full" },
      stamp: `${row.revision}:${row.zed_token}`,
    };
  }
}

async function bumpRevision(tx: Tx): Promise<void> {
  await tx
    .insertInto("authz_state")
    .values({ id: 1, zed_token: "", revision: 1 })
    .onConflict((oc) => oc.column("id").doUpdateSet({ revision: sql<number>`authz_state.revision + 1` }))
    .execute();
}

/**
 * Writes straight to SpiceDB, outside the outbox (`authz:verify --repair`), as the applier
 * does: under the apply lock, sharing the write's token and moving every process's stamp, so
 * that no process goes on serving answers it cached before the repair.
 */
export async function writeOutsideOutbox(db: Db, client: AuthzClient, updates: RelationshipUpdate[]): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${APPLY_LOCK})`.execute(tx);
    let token = "";
    for (let i = 0; i < updates.length; i += 1000) token = await client.write(updates.slice(i, i + 1000));
    await shareToken(tx, token);
    await bumpRevision(tx);
  });
}

async function shareToken(tx: Tx, token: string): Promise<void> {
  if (!token) return;
  await tx
    .insertInto("authz_state")
    .values({ id: 1, zed_token: token })
    .onConflict((oc) => oc.column("id").doUpdateSet({ zed_token: token }))
    .execute();
}

export class RelationshipSync {
  private timer: NodeJS.Timeout | undefined;
  /** Failed flushes so far, and whether keys may be left queued (unknown at start: yes). */
  private failures = 0;
  private leftovers = true;

  constructor(
    private readonly db: Db,
    private readonly authz: AuthzClient,
    private readonly consistency: ConsistencyTracker,
    private readonly logger: Logger,
    /**
     * Only this process queues keys (PGlite: the data folder is locked to one process). Every
     * change is then followed by its own flush, so the background flush only needs to run after
     * a failure; otherwise (several processes, one of which may crash) it polls.
     */
    private readonly ownsOutbox = false,
  ) {}

  /** Applies every queued key to SpiceDB; throws (leaving the queue intact) if SpiceDB fails. */
  async flush(): Promise<void> {
    const failuresBefore = this.failures;
    try {
      while ((await this.applyBatch()) === OUTBOX_BATCH) {
        // A full batch: there may be more.
      }
    } catch (error) {
      this.failures++;
      this.leftovers = true;
      throw error;
    }
    // Drained — unless another flush failed meanwhile and left its keys behind.
    if (this.failures === failuresBefore) this.leftovers = false;
  }

  private async applyBatch(): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${APPLY_LOCK})`.execute(tx);
      const pending = await tx
        .selectFrom("authz_outbox as o")
        .leftJoin("authz_relationships as r", (join) =>
          join
            .onRef("r.resource_type", "=", "o.resource_type")
            .onRef("r.resource_id", "=", "o.resource_id")
            .onRef("r.relation", "=", "o.relation")
            .onRef("r.subject_type", "=", "o.subject_type")
            .onRef("r.subject_id", "=", "o.subject_id")
            .onRef("r.subject_relation", "=", "o.subject_relation"),
        )
        .select([
          "o.id",
          "o.resource_type",
          "o.resource_id",
          "o.relation",
          "o.subject_type",
          "o.subject_id",
          "o.subject_relation",
          "r.resource_type as present",
        ])
        .orderBy("o.id")
        .limit(OUTBOX_BATCH)
        .execute();
      if (pending.length === 0) return 0;

      const updates = new Map<string, RelationshipUpdate>();
      for (const row of pending) {
        const relationship = fromRow(row);
        updates.set(relationshipKey(relationship), { operation: row.present ? "touch" : "delete", relationship });
      }
      const token = await this.authz.write([...updates.values()]);
      this.consistency.advance(token);
      // Under the apply lock, so the stored token only moves forward.
      await shareToken(tx, token);
      await tx
        .deleteFrom("authz_outbox")
        .where(
          "id",
          "in",
          pending.map((row) => row.id),
        )
        .execute();
      return pending.length;
    });
  }

  /** Fills an empty (in-memory) SpiceDB from the durable record, then applies the queue. */
  async refill(): Promise<number> {
    const rows = await this.db.selectFrom("authz_relationships").selectAll().execute();
    for (let i = 0; i < rows.length; i += 1000) {
      const updates = rows.slice(i, i + 1000).map((row) => ({ operation: "touch" as const, relationship: fromRow(row) }));
      this.consistency.advance(await this.authz.write(updates));
    }
    await this.db.deleteFrom("authz_outbox").execute();
    return rows.length;
  }

  /** Retries whatever a failed flush left queued, until stopped. */
  startBackgroundFlush(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      if (this.ownsOutbox && !this.leftovers) return;
      this.flush().catch((error: unknown) => this.logger.warn({ err: error }, "relationship flush failed; will retry"));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function dedupe(relationships: Relationship[]): Relationship[] {
  return [...new Map(relationships.map((r) => [relationshipKey(r), r])).values()];
}

type RelationshipKey = Omit<Row<"authz_relationships">, "org_id" | "team_id">;

function toKey(r: Relationship): RelationshipKey {
  return {
    resource_type: r.resource.type,
    resource_id: r.resource.id,
    relation: r.relation,
    subject_type: r.subject.type,
    subject_id: r.subject.id,
    subject_relation: r.subjectRelation ?? "",
  };
}

function fromRow(row: RelationshipKey): Relationship {
  return {
    resource: { type: row.resource_type, id: row.resource_id },
    relation: row.relation,
    subject: { type: row.subject_type, id: row.subject_id },
    ...(row.subject_relation ? { subjectRelation: row.subject_relation } : {}),
  };
}
