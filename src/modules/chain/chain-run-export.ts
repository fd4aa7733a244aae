import type { Authorizer } from "../../authz/authorizer.js";
import type { Db } from "../../db/database.js";
import { typeOfId } from "../../ids.js";
import { findChain, listChainRuns } from "./chain.repository.js";
import { decisionsOfRuns } from "./chain-run.repository.js";
import { chainRef } from "./chain.service.js";

/** The export's bound: the latest 10,000 runs, read from Postgres 500 at a time. */
export const MAX_EXPORTED_RUNS = 10_000;
const BATCH = 500;

/**
 * The chain's runs with their results, newest first, one JSON object a line (NDJSON), for a
 * caller holding chain#export_results (results:export on the team, or a RUNNER or EDITOR
 * grant). Undefined for anyone else, and alike for a malformed or nonexistent id, so the
 * route answers all of them with the same 404. The body reads a batch only when the client
 * is ready for more, so memory stays bounded however many runs the chain has.
 */
export async function chainRunsExport(db: Db, authz: Authorizer, chainId: string): Promise<ReadableStream<Uint8Array> | undefined> {
  if (typeOfId(chainId) !== "Chain") return undefined;
  if (!(await authz.can(chainRef(chainId), "export_results"))) return undefined;
  if (!(await findChain(db, chainId))) return undefined;
  const encoder = new TextEncoder();
  let before: string | undefined;
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const limit = Math.min(BATCH, MAX_EXPORTED_RUNS - sent);
      const runs = limit > 0 ? await listChainRuns(db, chainId, { limit, before }) : [];
      if (runs.length === 0) return controller.close();
      const decisions = await decisionsOfRuns(db, runs.map((run) => run.id));
      const lines = runs.map((run) => {
        const line = {
          id: run.id,
          status: run.status,
          result: run.result ?? null,
          startedBy: run.started_by,
          createdAt: run.created_at,
          updatedAt: run.updated_at,
          decisions: decisions
            .filter((decision) => decision.run_id === run.id)
            .map((d) => ({ question: d.question, approve: d.approve, comment: d.comment, decidedBy: d.decided_by, decidedAt: d.decided_at })),
        };
        return `${JSON.stringify(line)}\n`;
      });
      sent += runs.length;
      before = runs.at(-1)!.id;
      controller.enqueue(encoder.encode(lines.join("")));
      if (runs.length < limit) controller.close();
    },
  });
}
