import { builder } from "../../graphql/builder.js";
import { filteredKeysetConnection } from "../../graphql/pagination.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { notFound } from "../../errors.js";
import { TeamRef } from "../team/team.graphql.js";
import { PrincipalRef, loadPrincipal } from "../user/user.graphql.js";
import type { Row } from "../../db/database.js";
import { findChainRun, listChainsPage, type Chain, type ChainRun } from "./chain.repository.js";
import {
  chainRef,
  chainVersions,
  createChain,
  readableDefinition,
  deleteChain,
  getChain,
  latestRuns,
  runChain,
  shareChain,
  unshareChain,
  updateChain,
  DEFAULT_RUNS,
  MAX_RUNS,
} from "./chain.service.js";

const ChainAccessEnum = builder.enumType("ChainAccess", { values: ["VIEWER", "RUNNER", "EDITOR"] as const });
export const ChainRunStatusEnum = builder.enumType("ChainRunStatus", {
  values: ["QUEUED", "RUNNING", "WAITING_FOR_APPROVAL", "SUCCEEDED", "FAILED", "CANCELLED"] as const,
});

export const ChainRef = builder.objectRef<Chain>("Chain");
export const ChainRunRef = builder.objectRef<ChainRun>("ChainRun");
const ChainVersionRef = builder.objectRef<Row<"chain_versions">>("ChainVersion");

const SECRET_NAMES_NOTE = "Secret names (`{\"$secret\": …}`) read as null unless the caller may read them (chain#read_secret_names).";

ChainVersionRef.implement({
  description: "One definition the chain has had; version 1 is the one it was created with.",
  fields: (t) => ({
    version: t.exposeInt("version"),
    definition: t.field({
      type: "JSON",
      nullable: true,
      description: SECRET_NAMES_NOTE,
      resolve: (version, _args, ctx) => readableDefinition(ctx, version.chain_id, version.definition),
    }),
    changedBy: t.field({ type: PrincipalRef, nullable: true, resolve: (version, _args, ctx) => loadPrincipal(ctx.loaders, version.changed_by) }),
    createdAt: t.field({ type: "DateTime", resolve: (version) => version.created_at }),
  }),
});

builder.node(ChainRef, {
  id: { resolve: (chain) => chain.id },
  authScopes: (chain) => ({ visible: scopeKey(chainRef(chain.id)) }),
  loadOne: (id, ctx) => getChain(ctx, id),
  fields: (t) => ({
    name: t.exposeString("name"),
    team: t.field({ type: TeamRef, resolve: async (chain, _args, ctx) => (await ctx.loaders.team.load(chain.team_id))! }),
    definition: t.field({
      type: "JSON",
      nullable: true,
      description: SECRET_NAMES_NOTE,
      resolve: (chain, _args, ctx) => readableDefinition(ctx, chain.id, chain.definition),
    }),
    runs: t.field({
      type: [ChainRunRef],
      description: `The latest runs, newest first: \`first\` of them (default ${DEFAULT_RUNS}, at most ${MAX_RUNS}). All of them: GET /v1/chains/{id}/runs/export.`,
      args: { first: t.arg.int() },
      resolve: (chain, args, ctx) => latestRuns(ctx, chain, args.first),
    }),
    versions: t.field({
      type: [ChainVersionRef],
      description: "Every definition the chain has had, newest first (the latest 200), with who changed it and when.",
      resolve: (chain, _args, ctx) => chainVersions(ctx, chain),
    }),
  }),
});

builder.node(ChainRunRef, {
  id: { resolve: (run) => run.id },
  // A run is as visible as its chain.
  authScopes: (run) => ({ visible: scopeKey(chainRef(run.chain_id)) }),
  loadOne: async (id, ctx) => {
    const run = await findChainRun(ctx.db, id);
    if (!run) throw notFound("chain run not found");
    await ctx.authz.requireVisible(chainRef(run.chain_id));
    return run;
  },
  fields: (t) => ({
    chain: t.field({ type: ChainRef, resolve: async (run, _args, ctx) => (await ctx.loaders.chain.load(run.chain_id))! }),
    status: t.field({ type: ChainRunStatusEnum, resolve: (run) => run.status }),
    startedBy: t.field({ type: PrincipalRef, nullable: true, resolve: (run, _args, ctx) => loadPrincipal(ctx.loaders, run.started_by) }),
    createdAt: t.field({ type: "DateTime", resolve: (run) => run.created_at }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  chains: t.connection(
    {
      type: ChainRef,
      description: "Chains the caller can view: all of them for team roles, only the shared ones for chain grantees.",
      resolve: (team, args, ctx) =>
        filteredKeysetConnection(
          args,
          (after, limit) => listChainsPage(ctx.db, team.id, { after, limit }),
          (chain) => chain.id,
          (rows) => ctx.authz.filter(rows, (c) => chainRef(c.id), "view"),
        ),
    },
    { name: "ChainConnection" },
    { name: "ChainEdge" },
  ),
}));

builder.mutationFields((t) => ({
  createChain: t.field({
    audit: "chain.create",
    type: ChainRef,
    args: { teamId: t.arg.id({ required: true }), name: t.arg.string({ required: true }), definition: t.arg({ type: "JSON" }) },
    resolve: (_root, args, ctx) => createChain(ctx, args.teamId, args.name, args.definition),
  }),
  updateChain: t.field({
    audit: "chain.update",
    type: ChainRef,
    args: { id: t.arg.id({ required: true }), definition: t.arg({ type: "JSON", required: true }) },
    resolve: (_root, args, ctx) => updateChain(ctx, args.id, args.definition),
  }),
  runChain: t.field({
    audit: "chain.run",
    type: ChainRunRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: "JSON" }) },
    resolve: (_root, args, ctx) => runChain(ctx, args.id, args.input),
  }),
  deleteChain: t.boolean({
    audit: "chain.delete",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deleteChain(ctx, args.id),
  }),
  shareChain: t.field({
    audit: "chain.share",
    type: ChainRef,
    args: { chainId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }), access: t.arg({ type: ChainAccessEnum, required: true }) },
    resolve: (_root, args, ctx) => shareChain(ctx, args.chainId, args.userId, args.access),
  }),
  unshareChain: t.field({
    audit: "chain.unshare",
    type: ChainRef,
    args: { chainId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => unshareChain(ctx, args.chainId, args.userId),
  }),
}));
