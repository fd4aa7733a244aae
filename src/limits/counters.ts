/**
 * The counters behind the gateway's rate limits and budgets (modules/gateway/limits.ts):
 * fixed windows that each allow `limit` units. One `take` asks for one unit from several
 * counters at once (a key's minute, its team's minute, its team's month) and gets all of them
 * or none, so a call refused by one limit never consumes another's.
 *
 * Two stores: RedisLimitCounters (redis-counters.ts, with REDIS_URL: shared by every API
 * process, the whole check-and-take one Lua script) and MemoryLimitCounters (this process only).
 */
export interface Counter {
  key: string;
  /** Units the window allows. */
  limit: number;
  /** How long the counter must outlive this call: until its window ends (with some slack). */
  ttlMs: number;
  /**
   * What an absent counter starts from: 0 when omitted; "ask" makes take answer `unseeded`
   * instead (a month's budget, which must not restart at 0 when the store lost it: the caller
   * reads the month's usage from Postgres and asks again with that number).
   */
  seed?: "ask" | number;
}

export type TakeResult = { outcome: "taken" } | { outcome: "refused"; index: number } | { outcome: "unseeded"; index: number };

export interface LimitCounters {
  readonly shared: boolean;
  /** One unit from each counter, or none: refused by (the index of) the first with no unit left. */
  take(counters: Counter[]): Promise<TakeResult>;
  /** The counter's value, if it exists (read only: Team.usage). */
  peek(key: string): Promise<number | undefined>;
  close(): Promise<void>;
}

/** In this process only: each API process counts on its own (README: without REDIS_URL). */
export class MemoryLimitCounters implements LimitCounters {
  readonly shared = false;
  private readonly values = new Map<string, { value: number; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Windows that ended are dropped once a minute, so memory follows the live windows only.
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  // Synchronous between reading and writing: one event loop, so check-and-take is atomic here.
  async take(counters: Counter[]): Promise<TakeResult> {
    const at = this.now();
    const current: number[] = [];
    for (const [index, counter] of counters.entries()) {
      const entry = this.values.get(counter.key);
      const live = entry && entry.expiresAt > at ? entry.value : undefined;
      if (live === undefined && counter.seed === "ask") return { outcome: "unseeded", index };
      const value = live ?? (typeof counter.seed === "number" ? counter.seed : 0);
      // A seed is kept even when the call is refused: the next call need not read Postgres again.
      if (live === undefined && typeof counter.seed === "number") this.values.set(counter.key, { value, expiresAt: at + counter.ttlMs });
      if (value >= counter.limit) return { outcome: "refused", index };
      current.push(value);
    }
    for (const [index, counter] of counters.entries()) this.values.set(counter.key, { value: current[index]! + 1, expiresAt: at + counter.ttlMs });
    return { outcome: "taken" };
  }

  async peek(key: string): Promise<number | undefined> {
    const entry = this.values.get(key);
    return entry && entry.expiresAt > this.now() ? entry.value : undefined;
  }

  private sweep(): void {
    const at = this.now();
    for (const [key, entry] of this.values) if (entry.expiresAt <= at) this.values.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
