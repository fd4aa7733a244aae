import type { Db, Tx } from "../db/database.js";
import type { Consistency } from "./client.js";
import { bumpRevision, readAuthzState } from "./relationship.repository.js";

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
    const row = await readAuthzState(this.shared);
    if (!row) return { consistency: { kind: "full" }, stamp: "none" };
    return {
      consistency: row.zed_token ? { kind: "atLeastAsFresh", token: row.zed_token } : { kind: "full" },
      stamp: `${row.revision}:${row.zed_token}`,
    };
  }
}
