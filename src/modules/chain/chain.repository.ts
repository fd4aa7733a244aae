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

/** A chain's runs, newest first (ids sort by creation); `before` continues after the last id read. */
export function listChainRuns(db: Db, chainId: string, options: { limit: number; before?: string }) {
  let query = db.selectFrom("chain_runs").selectAll().where("chain_id", "=", chainId);
  if (options.before) query = query.where("id", "<", options.before);
  return query.orderBy("id", "desc").limit(options.limit).execute();
}

export const findChainRun = (db: Db | Tx, id: string) => db.selectFrom("chain_runs").selectAll().where("id", "=", id).executeTakeFirst();

export const insertChain = (tx: Tx, values: { teamId: string; name: string; definition: string | null; createdBy: string | null }) =>
  tx
    .insertInto("chains")
    .values({ id: newId("Chain"), team_id: values.teamId, name: values.name, definition: values.definition, created_by: values.createdBy })
    .returningAll()
    .executeTakeFirstOrThrow();

export const updateChainDefinition = (tx: Tx, id: string, definition: string | null) =>
  tx.updateTable("chains").set({ definition }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();

/**
 * The chain's next version (1 for a new chain). Called after the chain row was written in the
 * same transaction: that row's lock orders concurrent edits, so each reads the last committed version.
 */
export async function insertChainVersion(tx: Tx, values: { chainId: string; definition: string | null; changedBy: string | null }) {
  const last = await tx.selectFrom("chain_versions").select((eb) => eb.fn.max("version").as("version")).where("chain_id", "=", values.chainId).executeTakeFirst();
  await tx
    .insertInto("chain_versions")
    .values({ chain_id: values.chainId, version: (last?.version ?? 0) + 1, definition: values.definition, changed_by: values.changedBy })
    .execute();
}

export const listChainVersions = (db: Db, chainId: string, limit: number) =>
  db.selectFrom("chain_versions").selectAll().where("chain_id", "=", chainId).orderBy("version", "desc").limit(limit).execute();

/** Its runs go with it (foreign keys cascade). */
export const deleteChainRow = (tx: Tx, id: string) => tx.deleteFrom("chains").where("id", "=", id).execute();

/** A queued run of the chain. */
export const insertChainRun = (tx: Tx, values: { chainId: string; input: string | null; startedBy: string | null }) =>
  tx
    .insertInto("chain_runs")
    .values({ id: newId("ChainRun"), chain_id: values.chainId, status: "QUEUED", input: values.input, started_by: values.startedBy })
    .returningAll()
    .executeTakeFirstOrThrow();
