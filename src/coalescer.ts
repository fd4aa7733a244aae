import type { Logger } from "./logger.js";

/**
 * Accumulates per-key values in memory and writes them in one batch on a timer, so that a hot
 * path (every authenticated request, every gateway decision) never waits for a write.
 * A failed write puts its batch back to be retried; `stop()` writes what is left.
 */
export class Coalescer<V> {
  private pending = new Map<string, V>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (batch: Map<string, V>) => Promise<void>,
    private readonly merge: (older: V, newer: V) => V,
    private readonly logger: Logger,
  ) {}

  add(key: string, value: V): void {
    const older = this.pending.get(key);
    this.pending.set(key, older === undefined ? value : this.merge(older, value));
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.write(batch);
    } catch (error) {
      for (const [key, value] of batch) this.add(key, value);
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
    await this.flush().catch((error: unknown) => this.logger.warn({ err: error }, "final coalesced write failed"));
  }
}
