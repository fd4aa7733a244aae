import type { ChainRunStatus } from "../../db/chain-tables.js";
import type { Db, Row, Tx } from "../../db/database.js";

export type ChainRunDecision = Row<"chain_run_decisions">;

/**
 * The run, locked until the transaction ends: a status change reads, checks and writes under
 * this lock, so two reports (or two decisions) on one run cannot both apply.
 */
export const lockChainRun = (tx: Tx, id: string) => tx.selectFrom("chain_runs").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();

export const setChainRunState = (
  tx: Tx,
  id: string,
  values: { status: ChainRunStatus; pendingDecision: string | null; result?: string | null },
) =>
  tx
    .updateTable("chain_runs")
    .set({
      status: values.status,
      pending_decision: values.pendingDecision,
      updated_at: new Date(),
      ...(values.result === undefined ? {} : { result: values.result }),
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();

export const insertChainRunDecision = (tx: Tx, values: { runId: string; decidedBy: string; approve: boolean; comment: string | null; question: string }) =>
  tx
    .insertInto("chain_run_decisions")
    .values({ run_id: values.runId, decided_by: values.decidedBy, approve: values.approve, comment: values.comment, question: values.question })
    .returningAll()
    .executeTakeFirstOrThrow();

/** The decisions on each of `runIds`, oldest first. */
export async function decisionsOfRuns(db: Db, runIds: readonly string[]): Promise<ChainRunDecision[]> {
  if (runIds.length === 0) return [];
  return db.selectFrom("chain_run_decisions").selectAll().where("run_id", "in", runIds).orderBy("id").execute();
}
