import { builder } from "../../graphql/builder.js";
import { PrincipalRef, loadPrincipal } from "../user/user.graphql.js";
import { ChainRunRef, ChainRunStatusEnum } from "./chain.graphql.js";
import type { ChainRunDecision } from "./chain-run.repository.js";
import { cancelChainRun, decideChainRun, runDecisions, updateChainRun } from "./chain-run.service.js";

const ChainRunDecisionRef = builder.objectRef<ChainRunDecision>("ChainRunDecision").implement({
  description: "A person's answer to the question a run waited on.",
  fields: (t) => ({
    question: t.exposeString("question", { description: "What the run asked (updateChainRun's decision text)." }),
    approve: t.exposeBoolean("approve"),
    comment: t.exposeString("comment", { nullable: true }),
    decidedBy: t.field({ type: PrincipalRef, nullable: true, resolve: (decision, _args, ctx) => loadPrincipal(ctx.loaders, decision.decided_by) }),
    decidedAt: t.field({ type: "DateTime", resolve: (decision) => decision.decided_at }),
  }),
});

builder.objectFields(ChainRunRef, (t) => ({
  result: t.field({ type: "JSON", nullable: true, description: "What the runtime reported last.", resolve: (run) => run.result ?? null }),
  pendingDecision: t.exposeString("pending_decision", {
    nullable: true,
    description: "The question a WAITING_FOR_APPROVAL run asks (decideChainRun answers it); null otherwise.",
  }),
  decisions: t.field({ type: [ChainRunDecisionRef], description: "Every decision on the run, oldest first.", resolve: (run, _args, ctx) => runDecisions(ctx, run.id) }),
  updatedAt: t.field({ type: "DateTime", resolve: (run) => run.updated_at }),
}));

builder.mutationFields((t) => ({
  updateChainRun: t.field({
    audit: "chain_run.update",
    type: ChainRunRef,
    description:
      "The runtime's report (needs chain:run): QUEUED → RUNNING | CANCELLED | FAILED; RUNNING → RUNNING (progress) | WAITING_FOR_APPROVAL | SUCCEEDED | FAILED | CANCELLED; " +
      "WAITING_FOR_APPROVAL → FAILED | CANCELLED (only decideChainRun resumes it). A decision text goes with WAITING_FOR_APPROVAL. Anything else is BAD_USER_INPUT.",
    args: {
      id: t.arg.id({ required: true }),
      status: t.arg({ type: ChainRunStatusEnum, required: true }),
      result: t.arg({ type: "JSON" }),
      decision: t.arg.string(),
    },
    resolve: (_root, args, ctx) => updateChainRun(ctx, args.id, args.status, args.result, args.decision),
  }),
  decideChainRun: t.field({
    audit: "chain_run.decide",
    type: ChainRunRef,
    description:
      "Answers a WAITING_FOR_APPROVAL run (needs chain:run): approve resumes it (RUNNING), deny fails it (FAILED). Only a person decides, never the one who started the run " +
      "(FORBIDDEN); a run that is not waiting is a CONFLICT.",
    args: { id: t.arg.id({ required: true }), approve: t.arg.boolean({ required: true }), comment: t.arg.string() },
    resolve: (_root, args, ctx) => decideChainRun(ctx, args.id, args.approve, args.comment),
  }),
  cancelChainRun: t.field({
    audit: "chain_run.cancel",
    type: ChainRunRef,
    description: "Cancels a run that has not ended (needs chain:run); an ended run is a CONFLICT.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => cancelChainRun(ctx, args.id),
  }),
}));
