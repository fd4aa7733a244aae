import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

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

export const insertChain = (tx: Tx, values: { teamId: string; name: string; definition: string | null; createdBy: string | null }) =>
  tx
    .insertInto("chains")
    .values({ id: newId("Chain"), team_id: values.teamId, name: values.name, definition: values.definition, created_by: values.createdBy })
    .returningAll()
    .executeTakeFirstOrThrow();

export const updateChainDefinition = (tx: Tx, id: string, definition: string | null) =>
  tx.updateTable("chains").set({ definition }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();

/** Its runs go with it (foreign keys cascade). */
export const deleteChainRow = (tx: Tx, id: string) => tx.deleteFrom("chains").where("id", "=", id).execute();

/** A queued run of the chain. */
export const insertChainRun = (tx: Tx, values: { chainId: string; input: string | null; startedBy: string | null }) =>
  tx
    .insertInto("chain_runs")
    .values({ id: newId("ChainRun"), chain_id: values.chainId, status: "QUEUED", input: values.input, started_by: values.startedBy })
    .returningAll()
    .executeTakeFirstOrThrow();
