import { Coalescer } from "../../coalescer.js";
import type { AppDeps } from "../../context.js";
import type { Db } from "../../db/database.js";
import type { Logger } from "../../logger.js";
import { recordKeysLastUsed } from "../api-key/api-key.service.js";
import { addUsageCounts, sumTeamUsageSince, sumUsageByTeam } from "./usage.repository.js";

/** Invocation counts per team and minute, coalesced in memory and added to Postgres in batches. */
export function createUsageRecorder(db: Db, logger: Logger): Coalescer<number> {
  return new Coalescer<number>(
    async (batch) => {
      const rows = [...batch].map(([key, invocations]) => {
        const [orgId, teamId, minute] = key.split("|") as [string, string, string];
        return { org_id: orgId, team_id: teamId, minute: new Date(minute), invocations };
      });
      await addUsageCounts(db, rows);
    },
    (a, b) => a + b,
    logger,
    { name: "usage counts (invocations per team and minute)" },
  );
}

export function countInvocation(usage: Coalescer<number>, orgId: string, teamId: string, at = new Date()): void {
  const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000).toISOString();
  usage.add(`${orgId}|${teamId}|${minute}`, 1);
}

/** Invocations per team of the organization between `from` (inclusive) and `to` (exclusive). */
export async function usageByTeam(db: Db, orgId: string, from: Date | null, to: Date | null) {
  return (await sumUsageByTeam(db, orgId, from, to)).map((row) => ({ teamId: row.team_id, invocations: Number(row.invocations) }));
}

/**
 * The team's invocations since `from`, this process's pending counts included (flushed first).
 * Other processes' pending counts (at most their last 2 s) are not: the bound on how far a
 * budget re-seeded from here can undercount (modules/gateway/limits.ts).
 */
export async function teamInvocationsSince(deps: Pick<AppDeps, "db" | "usage">, teamId: string, from: Date): Promise<number> {
  await deps.usage.flush();
  return sumTeamUsageSince(deps.db, teamId, from);
}

/** When each key was last used, written in batches: no write per authenticated request. */
export function createLastUsedRecorder(db: Db, logger: Logger): Coalescer<Date> {
  return new Coalescer<Date>(
    async (batch) => {
      // One statement per 1,000 keys, so that no statement grows without bound.
      const entries = [...batch];
      for (let i = 0; i < entries.length; i += 1000) await recordKeysLastUsed(db, entries.slice(i, i + 1000));
    },
    (a, b) => (a > b ? a : b),
    logger,
    { name: "API keys' last use" },
  );
}
