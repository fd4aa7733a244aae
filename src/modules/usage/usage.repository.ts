import { sql } from "kysely";
import type { Db } from "../../db/database.js";

/** Adds each row's invocations to its team's count for that minute. */
export const addUsageCounts = (db: Db, rows: { org_id: string; team_id: string; minute: Date; invocations: number }[]) =>
  db
    .insertInto("usage_counts")
    .values(rows)
    .onConflict((oc) => oc.columns(["team_id", "minute"]).doUpdateSet({ invocations: sql`usage_counts.invocations + excluded.invocations` }))
    .execute();

/** Invocations per team of the organization between `from` (inclusive) and `to` (exclusive), by team id. */
export async function sumUsageByTeam(db: Db, orgId: string, from: Date | null, to: Date | null) {
  let query = db
    .selectFrom("usage_counts")
    .select(["team_id", (eb) => eb.fn.sum<string>("invocations").as("invocations")])
    .where("org_id", "=", orgId)
    .groupBy("team_id")
    .orderBy("team_id");
  if (from) query = query.where("minute", ">=", from);
  if (to) query = query.where("minute", "<", to);
  return query.execute();
}

/** The team's invocations from `from` (inclusive) on. */
export async function sumTeamUsageSince(db: Db, teamId: string, from: Date): Promise<number> {
  const row = await db
    .selectFrom("usage_counts")
    .select((eb) => eb.fn.sum<string | null>("invocations").as("invocations"))
    .where("team_id", "=", teamId)
    .where("minute", ">=", from)
    .executeTakeFirst();
  return Number(row?.invocations ?? 0);
}
