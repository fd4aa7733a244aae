import type { Db, Tx } from "../db/database.js";
import type { Consistency } from "./client.js";
import { bumpRevision, nextExpiry, readAuthzState } from "./relationship.repository.js";

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
 *
 * Expiring relationships (an approved access request) change what SpiceDB answers without any
 * write: at the instant one expires, SpiceDB stops counting it. So the stamp also names the
 * next instant at which a recorded relationship expires; once the clock reaches it, a request
 * reads a stamp naming the instant after, and no answer cached before the expiry is served to
 * a request that starts after it (the same argument as for a revocation). The next instant is
 * read from Postgres once per base stamp (a write may add one) and again once it has passed.
 *
 * A remote SpiceDB's clock may lag Orgraph's by up to `clockSkewMs`: a check it answers just
 * after T (by Orgraph's clock) may still count the relationship, and that allow would be cached
 * under the stamp naming the next instant. So each expiry is two boundaries, T and T + skew:
 * whatever was cached in [T, T + skew) is dropped at T + skew.
 */
export class ConsistencyTracker {
  private token: string | undefined;
  private generation = 0;
  /** The next expiry instant as read for one base stamp (null: none to come). */
  private expiry: { base: string; next: Date | null } | undefined;
  private expiryLoad: { base: string; promise: Promise<Date | null> } | undefined;

  /**
   * `expiries`: where the relationship record is, to read the next expiry instant (absent: no
   * part of the stamp for it). `clockSkewMs`: how far SpiceDB's clock may lag (AUTHZ_CLOCK_SKEW_MS).
   */
  constructor(
    private readonly shared?: Db,
    private readonly expiries: Db | undefined = shared,
    private readonly clockSkewMs = 0,
  ) {}

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
    const snapshot = await this.baseSnapshot();
    return { consistency: snapshot.consistency, stamp: `${snapshot.stamp}|${await this.expiryPart(snapshot.stamp)}` };
  }

  private async baseSnapshot(): Promise<Snapshot> {
    if (!this.shared) return { consistency: this.current(), stamp: `local:${this.generation}` };
    const row = await readAuthzState(this.shared);
    if (!row) return { consistency: { kind: "full" }, stamp: "none" };
    return {
      consistency: row.zed_token ? { kind: "atLeastAsFresh", token: row.zed_token } : { kind: "full" },
      stamp: `${row.revision}:${row.zed_token}`,
    };
  }

  /** `e<next expiry in ms>` (or `e-`), read anew when the base stamp moved or the clock passed it. */
  private async expiryPart(base: string): Promise<string> {
    if (!this.expiries) return "e-";
    const now = new Date();
    let known = this.expiry;
    if (!known || known.base !== base || (known.next !== null && now >= known.next)) {
      if (this.expiryLoad?.base !== base) this.expiryLoad = { base, promise: nextExpiry(this.expiries, now, this.clockSkewMs) };
      const load = this.expiryLoad;
      const next = await load.promise.finally(() => {
        if (this.expiryLoad === load) this.expiryLoad = undefined;
      });
      // A load that started before the instant may name it: then read once more.
      if (next !== null && new Date() >= next) return this.expiryPart(base);
      known = this.expiry = { base, next };
    }
    return `e${known.next?.getTime() ?? "-"}`;
  }
}
