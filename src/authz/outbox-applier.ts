import type { Db } from "../db/database.js";
import type { Logger } from "../logger.js";
import type { AuthzClient, RelationshipUpdate } from "./client.js";
import type { ConsistencyTracker } from "./consistency.js";
import { relationshipKey } from "./model.js";
import {
  allRelationships,
  bumpRevision,
  clearOutbox,
  deleteExpiredRelationships,
  deleteFromOutbox,
  readOutboxBatch,
  shareToken,
  takeApplyLock,
} from "./relationship.repository.js";

const OUTBOX_BATCH = 500; // SpiceDB accepts up to 1,000 updates per write; keys may need one each.
const SWEEP_EVERY_MS = 60_000; // expired relationships change no answer: a minute's delay only costs rows

/**
 * Makes SpiceDB follow the relationship record: applies what relationship-writes.ts queued,
 * after each change and in the background after a failure (see relationship-writes.ts for
 * the whole write path).
 */
export class OutboxApplier {
  private timer: NodeJS.Timeout | undefined;
  /** Failed flushes so far, and whether keys may be left queued (unknown at start: yes). */
  private failures = 0;
  private leftovers = true;
  private lastSweep = 0;

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
      await takeApplyLock(tx);
      const pending = await readOutboxBatch(tx, OUTBOX_BATCH);
      if (pending.length === 0) return 0;

      const updates = new Map<string, RelationshipUpdate>();
      for (const { relationship, present } of pending) {
        updates.set(relationshipKey(relationship), { operation: present ? "touch" : "delete", relationship });
      }
      const token = await this.authz.write([...updates.values()]);
      this.consistency.advance(token);
      // Under the apply lock, so the stored token only moves forward.
      await shareToken(tx, token);
      await deleteFromOutbox(
        tx,
        pending.map((row) => row.id),
      );
      return pending.length;
    });
  }

  /** Fills an empty (in-memory) SpiceDB from the durable record, then applies the queue. */
  async refill(): Promise<number> {
    const relationships = await allRelationships(this.db);
    for (let i = 0; i < relationships.length; i += 1000) {
      const updates = relationships.slice(i, i + 1000).map((relationship) => ({ operation: "touch" as const, relationship }));
      this.consistency.advance(await this.authz.write(updates));
    }
    await clearOutbox(this.db);
    // What expired while the server was down was not refilled: its rows go now.
    await this.sweepExpired();
    return relationships.length;
  }

  /**
   * Drops expired relationships from the record and from SpiceDB (their keys go through the
   * outbox, so a delete never overtakes a pending write of the same key: the applier reads the
   * record when it applies). Returns how many rows went; throws if SpiceDB fails (the keys stay queued).
   */
  async sweepExpired(): Promise<number> {
    this.lastSweep = Date.now();
    const swept = await this.db.transaction().execute((tx) => deleteExpiredRelationships(tx, new Date()));
    if (swept > 0) {
      this.leftovers = true;
      await this.flush();
    }
    return swept;
  }

  /** Retries whatever a failed flush left queued, and sweeps expired relationships once a minute, until stopped. */
  startBackgroundFlush(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      if (Date.now() - this.lastSweep >= SWEEP_EVERY_MS) {
        this.sweepExpired().catch((error: unknown) => this.logger.warn({ err: error }, "sweeping expired relationships failed; will retry"));
        return;
      }
      if (this.ownsOutbox && !this.leftovers) return;
      this.flush().catch((error: unknown) => this.logger.warn({ err: error }, "relationship flush failed; will retry"));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Writes straight to SpiceDB, outside the outbox (`authz:verify --repair`), as the applier
 * does: under the apply lock, sharing the write's token and moving every process's stamp, so
 * that no process goes on serving answers it cached before the repair.
 */
export async function writeOutsideOutbox(db: Db, client: AuthzClient, updates: RelationshipUpdate[]): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await takeApplyLock(tx);
    let token = "";
    for (let i = 0; i < updates.length; i += 1000) token = await client.write(updates.slice(i, i + 1000));
    await shareToken(tx, token);
    await bumpRevision(tx);
  });
}
