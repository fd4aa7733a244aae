import { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import type { Counter, LimitCounters, TakeResult } from "./counters.js";

/**
 * The whole check-and-take in one script, which Redis runs atomically: no other command (no
 * other API process) runs between reading the counters and writing them, so two processes can
 * never both take the last unit. ARGV holds (limit, ttl ms, seed) per key; a seed is "" (start
 * at 0), "ask" (absent: answer unseeded) or a number. Answers {0} taken, {1, i} refused by key
 * i, {2, i} key i is absent and must be seeded. Every key is written with its own TTL, so a
 * window's counter disappears by itself once the window is over.
 */
const TAKE = `
local values = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i - 2])
  local seed = ARGV[3 * i]
  local value = redis.call('GET', KEYS[i])
  if value then
    value = tonumber(value)
  elseif seed == 'ask' then
    return {2, i}
  elseif seed == '' then
    value = 0
  else
    -- Kept even if this call is refused: the next call need not read Postgres again.
    value = tonumber(seed)
    redis.call('SET', KEYS[i], value, 'PX', ARGV[3 * i - 1])
  end
  if value >= limit then return {1, i} end
  values[i] = value
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], values[i] + 1, 'PX', ARGV[3 * i - 1])
end
return {0, 0}
`;

type WithTake = Redis & { orgraphTakeLimits(keyCount: number, ...args: string[]): Promise<[number, number]> };

/**
 * Counters in Redis (ioredis), shared by every API process that has the same REDIS_URL.
 * Fails fast rather than waiting: no offline queue, no retry of a command, a short command
 * timeout. A call that cannot reach Redis throws, and the gateway refuses limited callers
 * with 503 (fails closed); unlimited callers never come here.
 */
export class RedisLimitCounters implements LimitCounters {
  readonly shared = true;
  private readonly client: WithTake;
  private reachable = true;

  private constructor(url: string, logger: Logger) {
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1_000,
      connectTimeout: 2_000,
      // Keep reconnecting (up to every 2 s): counting resumes by itself once Redis is back.
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    }) as WithTake;
    this.client.defineCommand("orgraphTakeLimits", { lua: TAKE });
    // Logged once per outage, not once per reconnection attempt.
    this.client.on("error", (error: Error) => {
      if (this.reachable) logger.error({ err: error }, "Redis (REDIS_URL) is unreachable: limited teams and keys are refused with 503 until it is back");
      this.reachable = false;
    });
    this.client.on("ready", () => {
      if (!this.reachable) logger.info("Redis (REDIS_URL) is reachable again: rate limits and budgets are counted");
      this.reachable = true;
    });
  }

  /** Connects, waiting up to `waitMs` for Redis; a Redis that is down does not stop the server from starting. */
  static async connect(url: string, logger: Logger, waitMs = 2_000): Promise<RedisLimitCounters> {
    const counters = new RedisLimitCounters(url, logger);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      counters.client.once("ready", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return counters;
  }

  async take(counters: Counter[]): Promise<TakeResult> {
    const args = counters.flatMap((c) => [String(c.limit), String(Math.max(1, Math.ceil(c.ttlMs))), c.seed === undefined ? "" : String(c.seed)]);
    const [code, position] = await this.client.orgraphTakeLimits(counters.length, ...counters.map((c) => c.key), ...args);
    if (code === 0) return { outcome: "taken" };
    return { outcome: code === 1 ? "refused" : "unseeded", index: position - 1 };
  }

  async peek(key: string): Promise<number | undefined> {
    const value = await this.client.get(key);
    return value === null ? undefined : Number(value);
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
