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
