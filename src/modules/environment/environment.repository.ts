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
