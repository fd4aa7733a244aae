import { sql } from "kysely";
import { Coalescer } from "../../coalescer.js";
import type { Db } from "../../db/database.js";
import type { Logger } from "../../logger.js";

/** Invocation counts per team and minute, coalesced in memory and added to Postgres in batches. */
export function createUsageRecorder(db: Db, logger: Logger): Coalescer<number> {
  return new Coalescer<number>(
    async (batch) => {
      const rows = [...batch].map(([key, invocations]) => {
        const [orgId, teamId, minute] = key.split("|") as [string, string, string];
        return { org_id: orgId, team_id: teamId, minute: new Date(minute), invocations };
      });
      await db
        .insertInto("usage_counts")
        .values(rows)
        .onConflict((oc) => oc.columns(["team_id", "minute"]).doUpdateSet({ invocations: sql`usage_counts.invocations + excluded.invocations` }))
        .execute();
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
  let query = db
    .selectFrom("usage_counts")
    .select(["team_id", (eb) => eb.fn.sum<string>("invocations").as("invocations")])
    .where("org_id", "=", orgId)
    .groupBy("team_id")
    .orderBy("team_id");
  if (from) query = query.where("minute", ">=", from);
  if (to) query = query.where("minute", "<", to);
  return (await query.execute()).map((row) => ({ teamId: row.team_id, invocations: Number(row.invocations) }));
}

/** When each key was last used, written in batches: no write per authenticated request. */
export function createLastUsedRecorder(db: Db, logger: Logger): Coalescer<Date> {
  return new Coalescer<Date>(
    async (batch) => {
      // One statement per 1,000 keys: a statement per key blocked PGlite (one connection, on
      // the main thread) for hundreds of milliseconds at a time under gateway load.
      const entries = [...batch];
      for (let i = 0; i < entries.length; i += 1000) {
        const values = sql.join(entries.slice(i, i + 1000).map(([keyId, at]) => sql`(${keyId}, ${at.toISOString()}::timestamptz)`));
        await sql`update api_keys set last_used_at = greatest(api_keys.last_used_at, used.at)
          from (values ${values}) as used(id, at) where api_keys.id = used.id`.execute(db);
      }
    },
    (a, b) => (a > b ? a : b),
    logger,
    { name: "API keys' last use" },
  );
}
