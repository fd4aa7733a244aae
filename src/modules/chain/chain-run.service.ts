import DataLoader from "dataloader";
import type { AppContext } from "../../context.js";
import type { ChainRunStatus } from "../../db/chain-tables.js";
import type { Tx } from "../../db/database.js";
import { badInput, conflict, forbidden, notFound } from "../../errors.js";
import { expectId } from "../../ids.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { chainRef } from "./chain.service.js";
import { findChainRun, type ChainRun } from "./chain.repository.js";
import { decisionsOfRuns, insertChainRunDecision, lockChainRun, setChainRunState, type ChainRunDecision } from "./chain-run.repository.js";

/**
 * A chain run's lifecycle: QUEUED → RUNNING → (WAITING_FOR_APPROVAL → RUNNING)* → SUCCEEDED |
 * FAILED | CANCELLED. The platform's runtime reports with updateChainRun; a person answers a
 * waiting run with decideChainRun (the only way out of WAITING_FOR_APPROVAL back to RUNNING);
 * whoever may run the chain may cancel a run that has not ended.
 */

/** What updateChainRun may move a run to. RUNNING → RUNNING is a progress report (a new result). */
const REPORTABLE: Record<ChainRunStatus, readonly ChainRunStatus[]> = {
  QUEUED: ["RUNNING", "CANCELLED", "FAILED"],
  RUNNING: ["RUNNING", "WAITING_FOR_APPROVAL", "SUCCEEDED", "FAILED", "CANCELLED"],
  // Only a person's decision resumes a waiting run; the runtime may still give up on it.
  WAITING_FOR_APPROVAL: ["FAILED", "CANCELLED"],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

const TERMINAL = new Set<ChainRunStatus>(["SUCCEEDED", "FAILED", "CANCELLED"]);
export const MAX_RESULT_BYTES = 256 * 1024;
export const MAX_DECISION_TEXT = 2000;

/** The run, once the caller may run its chain: NOT_FOUND (as for a nonexistent id) when they cannot view the chain, FORBIDDEN when they can but may not run it. */
async function runnableRun(ctx: AppContext, id: string): Promise<ChainRun> {
  expectId(id, "ChainRun");
  const run = await findChainRun(ctx.db, id);
  if (!run) throw notFound("chain run not found");
  await ctx.authz.require(chainRef(run.chain_id), "run");
  return run;
}

/** Re-reads the run under its row lock inside the write (it may have changed, or gone with its chain). */
async function locked(tx: Tx, id: string): Promise<ChainRun> {
  const run = await lockChainRun(tx, id);
  if (!run) throw notFound("chain run not found");
  return run;
}

function validText(text: string | null | undefined, what: string): string | null {
  if (text === null || text === undefined) return null;
  const trimmed = text.trim();
  if (trimmed.length === 0) throw badInput(`The ${what} must not be empty`);
  if (trimmed.length > MAX_DECISION_TEXT) throw badInput(`The ${what} must be at most ${MAX_DECISION_TEXT} characters`);
  return trimmed;
}

function validResult(result: unknown): string | null | undefined {
  if (result === undefined) return undefined;
  if (result === null) return null;
  const text = JSON.stringify(result);
  if (Buffer.byteLength(text, "utf8") > MAX_RESULT_BYTES) throw badInput(`A chain run result must be at most ${MAX_RESULT_BYTES} bytes`);
  return text;
}

/**
 * The runtime's report: a new status, optionally a result, and for WAITING_FOR_APPROVAL the
 * question a person must answer. Illegal transitions are BAD_USER_INPUT.
 */
export async function updateChainRun(ctx: AppContext, id: string, status: ChainRunStatus, result: unknown, decision: string | null | undefined): Promise<ChainRun> {
  await runnableRun(ctx, id);
  const question = validText(decision, "decision");
  if ((status === "WAITING_FOR_APPROVAL") !== (question !== null)) {
    throw badInput("A decision text goes with status WAITING_FOR_APPROVAL, and that status needs one");
  }
  const resultText = validResult(result);
  return writeTransaction(ctx, async (tx) => {
    const run = await locked(tx, id);
    if (!REPORTABLE[run.status].includes(status)) throw badInput(`A ${run.status} run cannot become ${status}`);
    describeAudit(ctx, { targetId: id, diff: { status: { before: run.status, after: status }, decision: question, result: result ?? null } });
    return setChainRunState(tx, id, { status, pendingDecision: question, result: resultText });
  });
}

/**
 * A person's answer to a waiting run: approve resumes it (RUNNING), deny fails it (FAILED).
 * Separation of duties: only a user decides (never a team key or service account, so an
 * approval always involves a person), and never the user who started the run, whichever of
 * their credentials they use (the principal of a personal key or a JWT is the user).
 * A run that is not waiting is a CONFLICT: its state moved on (another decision, a report).
 */
export async function decideChainRun(ctx: AppContext, id: string, approve: boolean, comment: string | null | undefined): Promise<ChainRun> {
  const run = await runnableRun(ctx, id);
  const principal = ctx.principal!;
  if (principal.kind !== "USER") throw forbidden("Only a person decides on a chain run, not a team key or service account");
  if (run.started_by === principal.id) throw forbidden("The person who started a run may not decide on it: a second person must");
  const note = validText(comment, "comment");
  return writeTransaction(ctx, async (tx) => {
    const current = await locked(tx, id);
    if (current.status !== "WAITING_FOR_APPROVAL" || current.pending_decision === null) throw conflict("This run is not waiting for a decision");
    const decided = await insertChainRunDecision(tx, { runId: id, decidedBy: principal.id, approve, comment: note, question: current.pending_decision });
    const status: ChainRunStatus = approve ? "RUNNING" : "FAILED";
    describeAudit(ctx, {
      targetId: id,
      diff: {
        status: { before: current.status, after: status },
        decision: { question: decided.question, approve, comment: note, decidedBy: principal.id, decidedAt: decided.decided_at },
      },
    });
    return setChainRunState(tx, id, { status, pendingDecision: null });
  });
}

/** Whoever may run the chain cancels a run that has not ended; an ended run is a CONFLICT. */
export async function cancelChainRun(ctx: AppContext, id: string): Promise<ChainRun> {
  await runnableRun(ctx, id);
  return writeTransaction(ctx, async (tx) => {
    const run = await locked(tx, id);
    if (TERMINAL.has(run.status)) throw conflict(`This run has already ended (${run.status})`);
    describeAudit(ctx, { targetId: id, diff: { status: { before: run.status, after: "CANCELLED" } } });
    return setChainRunState(tx, id, { status: "CANCELLED", pendingDecision: null });
  });
}

const decisionLoaders = new WeakMap<AppContext, DataLoader<string, ChainRunDecision[]>>();

/** The decisions on a run the caller views, oldest first; one query per request for all the runs it lists. */
export function runDecisions(ctx: AppContext, runId: string): Promise<ChainRunDecision[]> {
  let loader = decisionLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader(async (ids) => {
      const rows = await decisionsOfRuns(ctx.db, ids);
      return ids.map((id) => rows.filter((row) => row.run_id === id));
    });
    decisionLoaders.set(ctx, loader);
  }
  return loader.load(runId);
}
