import { describe, expect, it } from "vitest";
import { StampedCache } from "../src/authz/stamped-cache.js";

describe("StampedCache", () => {
  it("answers only a request that read the same stamp", () => {
    const cache = new StampedCache<boolean>(10);
    cache.set("s1", "k", true);
    expect(cache.get("s1", "k")).toBe(true);
    expect(cache.get("s2", "k")).toBeUndefined();
  });

  it("drops everything when an answer under another stamp arrives, older or newer", () => {
    const cache = new StampedCache<boolean>(10);
    cache.set("s1", "a", true);
    cache.set("s2", "b", false);
    expect([cache.get("s1", "a"), cache.get("s2", "a"), cache.get("s2", "b"), cache.size]).toEqual([undefined, undefined, false, 1]);
    // A slow request that read s1 stores late: it must not revive s1's answers for s2 readers.
    cache.set("s1", "c", true);
    expect([cache.get("s2", "b"), cache.get("s1", "c")]).toEqual([undefined, true]);
  });

  it("keeps at most maxEntries, forgetting the oldest", () => {
    const cache = new StampedCache<number>(3);
    for (const [i, key] of ["a", "b", "c", "d"].entries()) cache.set("s", key, i);
    expect(cache.size).toBe(3);
    expect(["a", "b", "c", "d"].map((key) => cache.get("s", key))).toEqual([undefined, 1, 2, 3]);
    cache.set("s", "b", 9); // replacing an entry evicts nothing
    expect(["b", "c", "d"].map((key) => cache.get("s", key))).toEqual([9, 2, 3]);
  });
});

describe("StampedCache.load", () => {
  it("computes once for concurrent loads of one key and stamp, and keeps the value", async () => {
    const cache = new StampedCache<number>(10);
    let computed = 0;
    const compute = async () => {
      computed++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return 42;
    };
    expect(await Promise.all([cache.load("s", "k", compute), cache.load("s", "k", compute), cache.load("s", "k", compute)])).toEqual([42, 42, 42]);
    expect(await cache.load("s", "k", compute)).toBe(42);
    expect(computed).toBe(1);
    // Another stamp never shares the computation or the value.
    expect(await cache.load("t", "k", compute)).toBe(42);
    expect(computed).toBe(2);
  });

  it("counts hits and misses: a load that joins one in flight is a miss, a later one a hit", async () => {
    const cache = new StampedCache<number>(10);
    const compute = async () => 1;
    await Promise.all([cache.load("s", "k", compute), cache.load("s", "k", compute)]);
    expect([cache.hits, cache.misses]).toEqual([0, 2]);
    await cache.load("s", "k", compute);
    expect(cache.get("t", "k")).toBeUndefined();
    expect([cache.hits, cache.misses]).toEqual([1, 3]);
  });

  it("keeps neither failures nor undefined", async () => {
    const cache = new StampedCache<number>(10);
    await expect(cache.load("s", "k", async () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await cache.load("s", "k", async () => undefined)).toBeUndefined();
    expect(await cache.load("s", "k", async () => 7)).toBe(7);
  });
});
