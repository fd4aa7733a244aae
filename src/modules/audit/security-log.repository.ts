import { sql } from "kysely";
import type { AuditResult, Db, Tx } from "../../db/database.js";

export interface NewSecurityEvent {
  source: string;
  clientAddress: string | null;
  actorId: string | null;
  authMethod: string | null;
  authRef: string | null;
  action: string;
  claimedOrgId: string | null;
  teamId: string | null;
  targetId: string | null;
  result: AuditResult;
  error: string | null;
  diff: unknown;
  requestId: string | null;
}

export async function insertSecurityEvent(tx: Tx, event: NewSecurityEvent): Promise<void> {
  await tx
    .insertInto("security_events")
    .values({
      at: new Date(),
      source: event.source,
      client_address: event.clientAddress,
      actor_id: event.actorId,
      auth_method: event.authMethod,
      auth_ref: event.authRef,
      action: event.action,
      claimed_org_id: event.claimedOrgId,
      team_id: event.teamId,
      target_id: event.targetId,
      result: event.result,
      error: event.error,
      diff: event.diff === null || event.diff === undefined ? null : JSON.stringify(event.diff),
      request_id: event.requestId,
    })
    .execute();
}

/**
 * Keeps the newest `maxPerSource` rows of `source` and the newest `maxRows` overall, and
 * counts what it removes per source. Trims run one at a time (an advisory lock to commit), so
 * two never delete the same rows in different orders.
 */
export async function trimSecurityLog(db: Db, source: string, limits: { maxPerSource: number; maxRows: number }): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext('security-log:trim'))`.execute(tx);
    // Two statements, each along an index: the source's newest rows, then everyone's.
    const bySource = await sql<{ source: string }>`
      delete from security_events
      where source = ${source} and seq <= (select seq from security_events where source = ${source} order by seq desc offset ${limits.maxPerSource} limit 1)
      returning source`.execute(tx);
    const overall = await sql<{ source: string }>`
      delete from security_events
      where seq <= (select seq from security_events order by seq desc offset ${limits.maxRows} limit 1)
      returning source`.execute(tx);
    const counts = new Map<string, number>();
    for (const row of [...bySource.rows, ...overall.rows]) counts.set(row.source, (counts.get(row.source) ?? 0) + 1);
    for (const [dropped, n] of counts) {
      await tx
        .insertInto("security_log_drops")
        .values({ source: dropped, dropped: n, last_dropped_at: new Date() })
        .onConflict((oc) => oc.column("source").doUpdateSet({ dropped: sql`security_log_drops.dropped + excluded.dropped`, last_dropped_at: new Date() }))
        .execute();
    }
    // The counters are bounded too (a /48 of IPv6 is 65,536 sources): beyond maxRows, the
    // sources that dropped least recently are folded into one "(other)" counter.
    await sql`
      with folded as (
        delete from security_log_drops
        where source in (
          select source from security_log_drops where source <> ${OTHER_SOURCES}
          order by last_dropped_at asc, source
          limit greatest(0, (select count(*) from security_log_drops) - ${limits.maxRows} + 1)
        )
        returning dropped)
      insert into security_log_drops (source, dropped, last_dropped_at)
      select ${OTHER_SOURCES}, sum(dropped), now() from folded having count(*) > 0
      on conflict (source) do update set dropped = security_log_drops.dropped + excluded.dropped, last_dropped_at = excluded.last_dropped_at`.execute(tx);
  });
}

/** The counter that absorbs the drop counts of sources beyond the bound. */
export const OTHER_SOURCES = "(other)";
