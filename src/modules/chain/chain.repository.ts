import type { Db, Row, Tx } from "../../db/database.js";

export type Chain = Row<"chains">;
export type ChainRun = Row<"chain_runs">;

export const findChain = (db: Db | Tx, id: string) => db.selectFrom("chains").selectAll().where("id", "=", id).executeTakeFirst();

export function listChainsPage(db: Db, teamId: string, options: { after?: string; limit: number }) {
  let query = db.selectFrom("chains").selectAll().where("team_id", "=", teamId);
  if (options.after) query = query.where("id", ">", options.after);
  return query.orderBy("id").limit(options.limit).execute();
}

export const listChainRuns = (db: Db, chainId: string) =>
  db.selectFrom("chain_runs").selectAll().where("chain_id", "=", chainId).orderBy("id", "desc").limit(100).execute();

export const findChainRun = (db: Db | Tx, id: string) => db.selectFrom("chain_runs").selectAll().where("id", "=", id).executeTakeFirst();
