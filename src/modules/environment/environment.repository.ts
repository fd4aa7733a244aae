import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type Environment = Row<"environments">;

export const findEnvironment = (db: Db | Tx, id: string) =>
  db.selectFrom("environments").selectAll().where("id", "=", id).executeTakeFirst();

export const findEnvironmentByName = (db: Db | Tx, teamId: string, name: string) =>
  db.selectFrom("environments").selectAll().where("team_id", "=", teamId).where("name", "=", name).executeTakeFirst();

export const listEnvironments = (db: Db, teamId: string) =>
  db.selectFrom("environments").selectAll().where("team_id", "=", teamId).orderBy("name").execute();

export const insertEnvironment = (tx: Tx, values: { teamId: string; name: string; restricted: boolean }) =>
  tx
    .insertInto("environments")
    .values({ id: newId("Environment"), team_id: values.teamId, name: values.name, restricted: values.restricted })
    .returningAll()
    .executeTakeFirstOrThrow();

export const setEnvironmentRestrictedRow = (tx: Tx, id: string, restricted: boolean) =>
  tx.updateTable("environments").set({ restricted }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();

/**
 * Locks the environment's row for the rest of the transaction: a deployment inserted into it
 * concurrently holds a key-share lock on it, so this waits until that one is committed and
 * visible (or rolled back).
 */
export async function lockEnvironment(tx: Tx, id: string): Promise<void> {
  await tx.selectFrom("environments").select("id").where("id", "=", id).forUpdate().execute();
}

/** Whether a model is deployed here (an active deployment; the rows belong to the environment as much as to the model). */
export const servesDeployments = async (tx: Tx, environmentId: string) =>
  (await tx.selectFrom("deployments").select("id").where("environment_id", "=", environmentId).where("active", "=", true).limit(1).executeTakeFirst()) !== undefined;

/** Deletes the environment; its deployment history goes with it (foreign keys cascade). */
export async function deleteEnvironmentRow(tx: Tx, id: string): Promise<void> {
  await tx.deleteFrom("environments").where("id", "=", id).execute();
}
