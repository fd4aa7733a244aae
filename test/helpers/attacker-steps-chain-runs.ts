import type { TestApp } from "./app.js";
import type { Principal, Reference } from "./attacker-reference.js";
import type { Attempt, Step } from "./attacker-steps.js";

/**
 * The attacker model's chain-run steps (issue 13): start, report, decide and cancel a run, by
 * any principal, on runs of both organizations and a nonexistent one. The reference: all
 * four need chain:run on the run's chain (NOT_FOUND when the caller cannot view the chain);
 * only a person who did not start the run decides (FORBIDDEN otherwise); illegal transitions
 * and decisions on a run that is not waiting fail. None changes anyone's permissions.
 */
export const CHAIN_RUN_OPS = ["runChain", "updateChainRun", "decideChainRun", "cancelChainRun"] as const;
type ChainRunOp = (typeof CHAIN_RUN_OPS)[number];
export const isChainRunOp = (op: string): op is ChainRunOp => (CHAIN_RUN_OPS as readonly string[]).includes(op);

type Status = "QUEUED" | "RUNNING" | "WAITING_FOR_APPROVAL" | "SUCCEEDED" | "FAILED" | "CANCELLED";
interface Run { id: string; chain: string; status: Status; startedBy: string }

const STATUSES: Status[] = ["RUNNING", "WAITING_FOR_APPROVAL", "SUCCEEDED", "FAILED", "CANCELLED", "QUEUED"];
/** The lifecycle, for the runtime's reports (a waiting run resumes only by a decision). */
const REPORTABLE: Record<Status, Status[]> = {
  QUEUED: ["RUNNING", "CANCELLED", "FAILED"],
  RUNNING: ["RUNNING", "WAITING_FOR_APPROVAL", "SUCCEEDED", "FAILED", "CANCELLED"],
  WAITING_FOR_APPROVAL: ["FAILED", "CANCELLED"],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};
const GHOST_RUN = `run_${"0".repeat(28)}`;
const runsOf = new WeakMap<Reference, Run[]>();
const runs = (ref: Reference) => runsOf.get(ref) ?? runsOf.set(ref, []).get(ref)!;

const UPDATE = `mutation($r: ID!, $s: ChainRunStatus!, $d: String) { updateChainRun(id: $r, status: $s, decision: $d) { id status } }`;
const DECIDE = `mutation($r: ID!, $a: Boolean!) { decideChainRun(id: $r, approve: $a, comment: "attacker model") { id status } }`;

/** Each chain of the world gets a run its organization's creator started and the runtime put on hold (so the creator may not decide on it). */
export async function seedChainRuns(app: TestApp, ref: Reference, creatorKey: string, creatorId: string, chains: string[]): Promise<void> {
  for (const chain of chains) {
    const id = (await app.ok(creatorKey, `mutation($c: ID!) { runChain(id: $c) { id } }`, { c: chain })).runChain.id;
    await app.ok(creatorKey, UPDATE, { r: id, s: "RUNNING" });
    await app.ok(creatorKey, UPDATE, { r: id, s: "WAITING_FOR_APPROVAL", d: "Proceed?" });
    runs(ref).push({ id, chain, status: "WAITING_FOR_APPROVAL", startedBy: creatorId });
  }
}

export function planChainRunStep(step: Step, caller: Principal, ref: Reference): Attempt {
  const pick = <T>(items: T[], index: number): T => items[index % items.length]!;
  const decide = (permitted: boolean, valid: boolean): Attempt["allowed"] => (permitted ? (valid ? "yes" : "invalid") : valid ? "no" : "refused");
  const may = (chain: string | undefined, permission: string) => !!chain && ref.permissions(caller, chain).has(permission);
  const op = step.op as ChainRunOp;

  if (op === "runChain") {
    const chain = pick([...[...ref.objects.values()].filter((o) => o.kind === "chain").map((o) => o.id), `chn_${"0".repeat(28)}`], step.object);
    return {
      query: `mutation($c: ID!) { runChain(id: $c) { id } }`, variables: { c: chain },
      allowed: decide(may(chain, "chain:run"), true), target: { variable: "c", id: chain, visible: may(chain, "chain:view"), ghost: `chn_${"0".repeat(28)}` },
      apply: (data) => void runs(ref).push({ id: data.runChain.id, chain, status: "QUEUED", startedBy: caller.id }),
      harmless: true,
    };
  }

  const run = pick([...runs(ref), undefined], step.object);
  const target = { variable: "r", id: run?.id ?? GHOST_RUN, visible: may(run?.chain, "chain:view"), ghost: GHOST_RUN };
  const runner = may(run?.chain, "chain:run");
  const settle = (status: Status) => () => void (run!.status = status);
  if (op === "updateChainRun") {
    const status = pick(STATUSES, step.choice);
    // Now and then a decision text where it does not belong, or none where it is needed.
    const stray = (step.choice >> 3) % 5 === 0;
    const decision = (status === "WAITING_FOR_APPROVAL") !== stray ? "Proceed?" : null;
    const valid = !!run && REPORTABLE[run.status].includes(status) && (decision !== null) === (status === "WAITING_FOR_APPROVAL");
    return { query: UPDATE, variables: { r: target.id, s: status, d: decision }, allowed: decide(runner, valid), target, apply: settle(status), harmless: true };
  }
  if (op === "decideChainRun") {
    const approve = step.choice % 2 === 0;
    // Separation of duties: a person, and not the one who started the run.
    const permitted = runner && caller.kind === "USER" && caller.id !== run?.startedBy;
    return {
      query: DECIDE, variables: { r: target.id, a: approve },
      allowed: decide(permitted, run?.status === "WAITING_FOR_APPROVAL"), target, apply: settle(approve ? "RUNNING" : "FAILED"), harmless: true,
    };
  }
  const ended = !run || ["SUCCEEDED", "FAILED", "CANCELLED"].includes(run.status);
  return {
    query: `mutation($r: ID!) { cancelChainRun(id: $r) { id status } }`, variables: { r: target.id },
    allowed: decide(runner, !ended), target, apply: settle("CANCELLED"), harmless: true,
  };
}
