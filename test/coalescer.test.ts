import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { Coalescer } from "../src/coalescer.js";

/** Issue 11, hole 9: counts are not dropped silently when the final flush at shutdown fails. */
function capturingLogger() {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

describe("Coalescer.stop()", () => {
  it("retries a failing final write and writes everything once it succeeds", async () => {
    const { logger } = capturingLogger();
    const written: [string, number][] = [];
    let failures = 2;
    const usage = new Coalescer<number>(
      async (batch) => {
        if (failures-- > 0) throw new Error("injected: Postgres unreachable");
        written.push(...batch);
      },
      (a, b) => a + b,
      logger,
      { name: "usage counts", retryDelayMs: 1 },
    );
    usage.add("org|team|minute", 2);
    usage.add("org|team|minute", 3);
    await usage.stop();
    expect(written).toEqual([["org|team|minute", 5]]);
  });

  it("after the last attempt, logs at error level the exact counts being lost", async () => {
    const { logger, lines } = capturingLogger();
    let attempts = 0;
    const usage = new Coalescer<number>(
      async () => {
        attempts++;
        throw new Error("injected: Postgres unreachable");
      },
      (a, b) => a + b,
      logger,
      { name: "usage counts", retryDelayMs: 1 },
    );
    usage.add("org_a|team_a|2026-11-25T10:00:00.000Z", 7);
    usage.add("org_b|team_b|2026-11-25T10:01:00.000Z", 1);
    await usage.stop();
    expect(attempts).toBe(3);
    const lost = lines.filter((line) => line.level >= 50);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({
      lost: { "org_a|team_a|2026-11-25T10:00:00.000Z": 7, "org_b|team_b|2026-11-25T10:01:00.000Z": 1 },
      entries: 2,
      err: { message: "injected: Postgres unreachable" },
    });
    expect(lost[0]!.msg).toContain("usage counts");
  });
});

/**
 * The CI failure of 2026-12-04 (new-enemy, "team budget lowered"): a budget re-seeded from
 * Postgres read the count while the timer's write of the last invocation was still under way,
 * because flush() saw nothing pending and returned at once. Undercounted, the lowered budget
 * let one more call through.
 */
describe("Coalescer.flush()", () => {
  it("resolves only once a write already under way (the timer's) has been written too", async () => {
    const { logger } = capturingLogger();
    const written: [string, number][] = [];
    let releaseFirst!: () => void;
    let writes = 0;
    const usage = new Coalescer<number>(
      async (batch) => {
        if (writes++ === 0) await new Promise<void>((resolve) => (releaseFirst = resolve));
        written.push(...batch);
      },
      (a, b) => a + b,
      logger,
      { name: "usage counts" },
    );
    usage.add("team|minute", 1);
    const timerFlush = usage.flush(); // the timer's write, now under way and slow
    let flushed = false;
    const readerFlush = usage.flush().then(() => (flushed = true)); // what a Postgres read waits for
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(flushed).toBe(false);
    releaseFirst();
    await Promise.all([timerFlush, readerFlush]);
    expect(written).toEqual([["team|minute", 1]]);
  });

  it("writes one batch at a time, in order, and a failed batch is written by the next flush", async () => {
    const { logger } = capturingLogger();
    const batches: [string, number][][] = [];
    let failNext = true;
    let active = 0;
    const usage = new Coalescer<number>(
      async (batch) => {
        active++;
        expect(active).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active--;
        if (failNext) {
          failNext = false;
          throw new Error("injected: Postgres unreachable");
        }
        batches.push([...batch]);
      },
      (a, b) => a + b,
      logger,
      { name: "usage counts" },
    );
    usage.add("k", 1);
    const first = usage.flush();
    usage.add("k", 2);
    const second = usage.flush();
    await expect(first).rejects.toThrow("injected");
    await second;
    expect(batches).toEqual([[["k", 3]]]);
  });
});
