import type { Logger } from "./logger.js";

/**
 * Accumulates per-key values in memory and writes them in one batch on a timer, so that a hot
 * path (every authenticated request, every gateway decision) never waits for a write.
 * A failed write puts its batch back to be retried; `stop()` writes what is left, retrying
 * `finalAttempts` times, and if it still cannot, logs at error level exactly what is lost
 * (every key and value), so an operator can re-apply it by hand.
 */
export class Coalescer<V> {
  private pending = new Map<string, V>();
  private timer: NodeJS.Timeout | undefined;
  /** The last write queued: the next one starts once it has settled. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (batch: Map<string, V>) => Promise<void>,
    private readonly merge: (older: V, newer: V) => V,
    private readonly logger: Logger,
    private readonly options: { name: string; finalAttempts?: number; retryDelayMs?: number } = { name: "coalesced writes" },
  ) {}

  add(key: string, value: V): void {
    const older = this.pending.get(key);
    this.pending.set(key, older === undefined ? value : this.merge(older, value));
  }

  /**
   * Writes everything added before this call. Writes run one at a time, in order: a flush that
   * finds the timer's write under way waits for it (and then writes what is pending), so a
   * reader that flushes before reading Postgres (a budget seeded from the month's usage) never
   * reads while a count is still on its way there.
   */
  flush(): Promise<void> {
    const next = this.writing.catch(() => undefined).then(() => this.writePending());
    this.writing = next;
    return next;
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.write(batch);
    } catch (error) {
      // Older than anything added meanwhile: merged in front of it, so the order of values holds.
      for (const [key, value] of this.pending) batch.set(key, batch.has(key) ? this.merge(batch.get(key)!, value) : value);
      this.pending = batch;
      throw error;
    }
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.flush().catch((error: unknown) => this.logger.warn({ err: error }, "coalesced write failed; will retry"));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const attempts = this.options.finalAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.flush();
        return;
      } catch (error) {
        if (attempt >= attempts) {
          const lost = Object.fromEntries(this.pending);
          this.logger.error({ err: error, lost, entries: this.pending.size }, `${this.options.name}: the final write failed ${attempt} times; these are lost`);
          return;
        }
        this.logger.warn({ err: error, attempt }, `${this.options.name}: the final write failed; retrying`);
        await new Promise((resolve) => setTimeout(resolve, (this.options.retryDelayMs ?? 500) * attempt));
      }
    }
  }
}
