import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type TrainingProject = Row<"training_projects">;

export const findTrainingProject = (db: Db | Tx, id: string) =>
  db.selectFrom("training_projects").selectAll().where("id", "=", id).executeTakeFirst();

/** The team's training projects, by name. */
export const listTrainingProjects = (db: Db, teamId: string) =>
  db.selectFrom("training_projects").selectAll().where("team_id", "=", teamId).orderBy("name").execute();

export const insertTrainingProject = (tx: Tx, values: { teamId: string; name: string }) =>
  tx
    .insertInto("training_projects")
    .values({ id: newId("TrainingProject"), team_id: values.teamId, name: values.name })
    .returningAll()
    .executeTakeFirstOrThrow();

export async function deleteTrainingProjectRow(tx: Tx, id: string): Promise<void> {
  await tx.deleteFrom("training_projects").where("id", "=", id).execute();
}
