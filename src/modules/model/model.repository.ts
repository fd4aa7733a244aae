import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type Model = Row<"models">;
export type Deployment = Row<"deployments">;

export const findModel = (db: Db | Tx, id: string) => db.selectFrom("models").selectAll().where("id", "=", id).executeTakeFirst();

export const findModelByName = (db: Db | Tx, teamId: string, name: string) =>
  db.selectFrom("models").selectAll().where("team_id", "=", teamId).where("name", "=", name).executeTakeFirst();

/** Which of `teamIds` have a model named `name`. */
export const teamsWithModelNamed = async (db: Db, teamIds: string[], name: string) =>
  teamIds.length === 0
    ? []
    : (await db.selectFrom("models").select("team_id").where("team_id", "in", teamIds).where("name", "=", name).execute()).map((m) => m.team_id);

export function listModelsPage(db: Db, teamId: string, options: { after?: string; limit: number }) {
  let query = db.selectFrom("models").selectAll().where("team_id", "=", teamId);
  if (options.after) query = query.where("id", ">", options.after);
  return query.orderBy("id").limit(options.limit).execute();
}

export const insertModel = (tx: Tx, values: { teamId: string; name: string; createdBy: string | null }) =>
  tx
    .insertInto("models")
    .values({ id: newId("Model"), team_id: values.teamId, name: values.name, created_by: values.createdBy })
    .returningAll()
    .executeTakeFirstOrThrow();

export const findDeployment = (db: Db | Tx, id: string) =>
  db.selectFrom("deployments").selectAll().where("id", "=", id).executeTakeFirst();

/** Records a new version in the environment and makes it the active one. */
export async function insertDeployment(
  tx: Tx,
  values: { modelId: string; environmentId: string; config: unknown; createdBy: string | null },
): Promise<Deployment> {
  const previous = await tx
    .selectFrom("deployments")
    .select((eb) => eb.fn.max("version").as("version"))
    .where("model_id", "=", values.modelId)
    .where("environment_id", "=", values.environmentId)
    .executeTakeFirst();
  await tx
    .updateTable("deployments")
    .set({ active: false })
    .where("model_id", "=", values.modelId)
    .where("environment_id", "=", values.environmentId)
    .where("active", "=", true)
    .execute();
  return tx
    .insertInto("deployments")
    .values({
      id: newId("Deployment"),
      model_id: values.modelId,
      environment_id: values.environmentId,
      version: Number(previous?.version ?? 0) + 1,
      config: values.config === undefined || values.config === null ? null : JSON.stringify(values.config),
      active: true,
      created_by: values.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Replaces the active deployment `id` with a new version of the same model and environment
 * carrying `config`. Undefined when `id` is no longer the active one: the update takes the
 * row's lock, so of two concurrent replacements the second finds it inactive.
 */
export async function supersedeDeployment(tx: Tx, id: string, config: unknown, createdBy: string | null): Promise<Deployment | undefined> {
  const replaced = await deactivateDeployment(tx, id);
  if (!replaced) return undefined;
  return insertDeployment(tx, { modelId: replaced.model_id, environmentId: replaced.environment_id, config, createdBy });
}

/** Marks `id` inactive if it is the active one (its row stays, as history); undefined otherwise. */
export const deactivateDeployment = (tx: Tx, id: string) =>
  tx.updateTable("deployments").set({ active: false }).where("id", "=", id).where("active", "=", true).returningAll().executeTakeFirst();

/** The model's deployments in `environmentIds`, newest first, at most `limit`. */
export const listDeploymentHistory = (db: Db, modelId: string, environmentIds: string[], limit: number) =>
  environmentIds.length === 0
    ? Promise.resolve([])
    : db
        .selectFrom("deployments")
        .selectAll()
        .where("model_id", "=", modelId)
        .where("environment_id", "in", environmentIds)
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(limit)
        .execute();

/** Deletes the model; its deployments go with it (foreign keys cascade). */
export async function deleteModelRow(tx: Tx, id: string): Promise<void> {
  await tx.deleteFrom("models").where("id", "=", id).execute();
}
