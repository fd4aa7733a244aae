/**
 * Answers remembered across requests — permission checks, API keys, gateway decisions — each
 * valid for exactly one *stamp*.
 *
 * A stamp names the state of everything an answer may depend on (ConsistencyTracker in
 * consistency.ts): it changes with every committed change and every SpiceDB write, and it
 * is read once at the start of a request, before that request reads anything else. Hence:
 *
 * - an answer is stored under the stamp its request read at its start, so it was computed
 *   from state at least as new as that stamp names;
 * - an answer is returned only to a request that read the same stamp, which started before
 *   any later change was acknowledged (acknowledging a change moves the stamp first).
 *
 * So a revocation acknowledged to its caller is never answered from the cache by a request
 * that starts after it: no stale allow. A stale answer can only reach a request that ran
 * concurrently with the change, as it could without any cache. Any change drops everything
 * (coarse, but writes are rare next to reads, and a cache that is never wrong needs no
 * per-entry invalidation rules).
 *
 * With a remote SpiceDB and several API processes, the stamp is the `authz_state` row in
 * Postgres, which each request already reads for its ZedToken: a change in any process moves
 * it before that change is acknowledged. SpiceDB's Watch API was the other candidate; it was
 * not used because it is asynchronous: between one process acknowledging a revocation and
 * another receiving the event, the other would still serve the cached allow. The stamp closes
 * that window and costs no extra round trip. (Watch would also see writes made to SpiceDB
 * behind Orgraph's back; those are drift, reported by `npm run authz:verify`.)
 */
export class StampedCache<V> {
  private stamp: string | undefined;
  private readonly entries = new Map<string, V>();
  private readonly inFlight = new Map<string, Promise<V | undefined>>();
  /** Lookups answered from an entry, and not (a load that joins one in flight is a miss), for GET /metrics. */
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries: number) {}

  /**
   * The cached value, or `compute()`'s, stored (unless undefined: "nothing there" is not
   * kept). Concurrent loads of one key under one stamp share one computation: a burst of
   * identical gateway questions costs one SpiceDB call.
   */
  load(stamp: string, key: string, compute: () => Promise<V | undefined>): Promise<V | undefined> {
    const cached = this.get(stamp, key);
    if (cached !== undefined) return Promise.resolve(cached);
    const flightKey = `${stamp}\n${key}`;
    let flight = this.inFlight.get(flightKey);
    if (!flight) {
      flight = compute()
        .then((value) => {
          if (value !== undefined) this.set(stamp, key, value);
          return value;
        })
        .finally(() => this.inFlight.delete(flightKey));
      this.inFlight.set(flightKey, flight);
    }
    return flight;
  }

  get(stamp: string, key: string): V | undefined {
    const value = stamp === this.stamp ? this.entries.get(key) : undefined;
    if (value === undefined) this.misses++;
    else this.hits++;
    return value;
  }

  set(stamp: string, key: string, value: V): void {
    if (stamp !== this.stamp) {
      // A request that read another stamp (newer, or — if it ran long — older) starts a new
      // generation; entries are never shared between two stamps.
      this.entries.clear();
      this.stamp = stamp;
    }
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      // Full: forget the oldest entry (Maps iterate in insertion order).
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(key, value);
  }

  get size(): number {
    return this.entries.size;
  }
}
