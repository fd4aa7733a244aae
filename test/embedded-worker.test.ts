import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAuthzSchema, type AuthzClient } from "../src/authz/client.js";
import { startEmbeddedSpiceDb } from "../src/authz/embedded.js";
import type { CheckItem } from "../src/authz/model.js";

/**
 * The embedded SpiceDB's synchronous FFI calls run in a worker thread: while SpiceDB works,
 * the main thread's event loop keeps turning (other requests are served).
 */
let spicedb: AuthzClient;
beforeAll(async () => {
  spicedb = await startEmbeddedSpiceDb();
  await spicedb.writeSchema(readAuthzSchema());
});
afterAll(() => spicedb?.close());

const bigBatch: CheckItem[] = Array.from({ length: 5000 }, (_, i) => ({
  resource: { type: "team", id: `team_${i}` },
  permission: "view",
  subject: { type: "user", id: "usr_x" },
}));

describe("the embedded SpiceDB in a worker thread", () => {
  it("leaves the event loop free while it evaluates", async () => {
    // Five sequential batches of 5,000 checks (~100 ms each); a 1 ms timer ticks meanwhile.
    // In the calling thread, each batch would hold the loop for its whole duration; in the
    // worker, the largest gap between ticks stays far below one batch's duration.
    let last = performance.now();
    let largestGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      largestGap = Math.max(largestGap, now - last);
      last = now;
    }, 1);
    const started = performance.now();
    for (let i = 0; i < 5; i++) expect(await spicedb.checkBulk(bigBatch, { kind: "full" })).toHaveLength(5000);
    const perBatch = (performance.now() - started) / 5;
    clearInterval(timer);
    expect(largestGap).toBeLessThan(perBatch / 2);
  });

  it("fails calls (so requests fail closed) once closed, instead of hanging", async () => {
    const other = await startEmbeddedSpiceDb();
    await other.writeSchema(readAuthzSchema());
    other.close();
    await expect(other.checkBulk(bigBatch.slice(0, 1), { kind: "full" })).rejects.toThrow(/closed/);
  });
});
