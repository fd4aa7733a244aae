import type { Principal } from "../../auth/principal.js";
import type { GatewayOutcome, TeamLimitValues } from "../../authz/decision.js";
import type { AppDeps } from "../../context.js";
import type { Counter } from "../../limits/counters.js";
import { teamInvocationsSince } from "../usage/usage.js";

/**
 * Rate limits and budgets of `/v1/authorize` (issue 14): an allowed model:invoke decision takes
 * one unit from the key's per-minute limit, its team's per-minute limit and its team's monthly
 * budget, all or none (limits/counters.ts). Refused decisions never get here, and a team and
 * key without limits never touch the counters (no Redis round trip).
 *
 * Windows are fixed and in UTC: the calendar minute, the calendar month. A missing month
 * counter (Redis restarted or flushed, a new process without Redis, or the limits changed:
 * the counter is keyed by their version) is seeded from the month's usage in Postgres, so a
 * budget never silently starts again at 0.
 */
export type LimitCode = "RATE_LIMITED" | "BUDGET_EXHAUSTED";

/** A limit was reached: HTTP 429, `Retry-After: retryAfter`, body { allowed: false, reason, code }. */
export class LimitRefusal extends Error {
  constructor(
    readonly code: LimitCode,
    readonly reason: string,
    /** Whole seconds until the window that refused frees a unit (the next minute, the next month). */
    readonly retryAfter: number,
  ) {
    super(reason);
  }

  get outcome(): GatewayOutcome {
    return this.code === "RATE_LIMITED" ? "rate_limited" : "budget_exhausted";
  }
}

/** The counters could not be reached: limited callers are refused (HTTP 503), never let through uncounted. */
export class LimitsUnavailable extends Error {}

/** The limits a team row carries, or undefined when it has none (its decisions skip the counters). */
export function limitsOfTeam(team: { requests_per_minute: number | null; monthly_invocations: number | null; limits_version: number }): TeamLimitValues | undefined {
  if (team.requests_per_minute === null && team.monthly_invocations === null) return undefined;
  return { requestsPerMinute: team.requests_per_minute, monthlyInvocations: team.monthly_invocations, version: team.limits_version };
}

/** The per-minute limit of the key the caller authenticated with, if it has one. */
export const keyLimitOf = (principal: Principal): { keyId: string; requestsPerMinute: number } | undefined =>
  principal.via.method === "api_key" && principal.via.requestsPerMinute ? { keyId: principal.via.keyId, requestsPerMinute: principal.via.requestsPerMinute } : undefined;

const MINUTE = 60_000;
/** Kept a little past their window, so a process whose clock runs behind still finds the counter. */
const SLACK = 5 * MINUTE;

export const monthStart = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
export const nextMonthStart = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));

/** The Redis (or in-process) key of the team's counter for the month of `at`, under limits `version`. */
export const monthCounterKey = (teamId: string, at: Date, version: number) => `orgraph:limits:team:${teamId}:month:${monthStart(at).toISOString().slice(0, 7)}:v${version}`;

interface Limit {
  counter: Counter;
  refusal: () => LimitRefusal;
}

/**
 * Takes one unit of every limit that applies, or returns why not. Throws LimitsUnavailable
 * when the counters cannot be reached (and logs it).
 */
export async function consumeLimits(
  deps: AppDeps,
  team: { id: string; limits?: TeamLimitValues },
  key: { keyId: string; requestsPerMinute: number } | undefined,
  now = new Date(),
): Promise<LimitRefusal | undefined> {
  const limits = applicableLimits(team, key, now);
  if (limits.length === 0) return undefined;
  try {
    const counters = limits.map((l) => l.counter);
    let result = await deps.limitCounters.take(counters);
    if (result.outcome === "unseeded") {
      const seeded = counters[result.index]!;
      counters[result.index] = { ...seeded, seed: await teamInvocationsSince(deps, team.id, monthStart(now)) };
      result = await deps.limitCounters.take(counters);
    }
    if (result.outcome === "taken") return undefined;
    if (result.outcome === "refused") return limits[result.index]!.refusal();
    throw new Error("a counter seeded from Postgres was still unseeded");
  } catch (error) {
    deps.logger.error({ err: error, teamId: team.id }, "rate limits could not be counted: refusing this limited caller (503)");
    throw new LimitsUnavailable("Rate limits and budgets cannot be counted right now; try again shortly", { cause: error });
  }
}

function applicableLimits(team: { id: string; limits?: TeamLimitValues }, key: { keyId: string; requestsPerMinute: number } | undefined, now: Date): Limit[] {
  const minute = Math.floor(now.getTime() / MINUTE);
  const untilNextMinute = (minute + 1) * MINUTE - now.getTime();
  const perMinute = (subject: string, limit: number, whose: string): Limit => ({
    counter: { key: `orgraph:limits:${subject}:minute:${minute}`, limit, ttlMs: untilNextMinute + SLACK },
    refusal: () => new LimitRefusal("RATE_LIMITED", `${whose} limit of ${limit} requests per minute is reached`, seconds(untilNextMinute)),
  });
  const limits: Limit[] = [];
  if (key) limits.push(perMinute(`key:${key.keyId}`, key.requestsPerMinute, "This key's"));
  const { requestsPerMinute, monthlyInvocations, version } = team.limits ?? { requestsPerMinute: null, monthlyInvocations: null, version: 0 };
  if (requestsPerMinute !== null) limits.push(perMinute(`team:${team.id}`, requestsPerMinute, "The team's"));
  if (monthlyInvocations !== null) {
    const reset = nextMonthStart(now);
    limits.push({
      counter: { key: monthCounterKey(team.id, now, version), limit: monthlyInvocations, ttlMs: reset.getTime() - now.getTime() + SLACK, seed: "ask" },
      refusal: () => new LimitRefusal("BUDGET_EXHAUSTED", `The team's monthly budget of ${monthlyInvocations} invocations is used up; it resets at ${reset.toISOString()}`, seconds(reset.getTime() - now.getTime())),
    });
  }
  return limits;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Team.usage: the calendar month (UTC) so far against the team's budget. */
export interface TeamMonthUsage {
  periodStart: Date;
  resetsAt: Date;
  invocations: number;
  budget: number | null;
  remaining: number | null;
}

/**
 * The month's invocations: Postgres's count (this process's pending counts flushed first) or,
 * when the team has a budget, the enforcing counter if it is ahead (other processes' counts not
 * yet written to Postgres). An unreachable counter store leaves Postgres's count.
 */
export async function teamMonthUsage(deps: AppDeps, team: { id: string; monthly_invocations: number | null; limits_version: number }, now = new Date()): Promise<TeamMonthUsage> {
  const periodStart = monthStart(now);
  const recorded = await teamInvocationsSince(deps, team.id, periodStart);
  let counted: number | undefined;
  if (team.monthly_invocations !== null) {
    counted = await deps.limitCounters.peek(monthCounterKey(team.id, now, team.limits_version)).catch((error: unknown) => {
      deps.logger.warn({ err: error, teamId: team.id }, "Team.usage: the budget counter could not be read; showing Postgres's count");
      return undefined;
    });
  }
  const invocations = Math.max(recorded, counted ?? 0);
  const budget = team.monthly_invocations;
  return { periodStart, resetsAt: nextMonthStart(now), invocations, budget, remaining: budget === null ? null : Math.max(0, budget - invocations) };
}
