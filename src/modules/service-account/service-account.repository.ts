import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type ServiceAccount = Row<"service_accounts">;

export const findServiceAccount = (db: Db | Tx, id: string) =>
  db.selectFrom("service_accounts").selectAll().where("id", "=", id).executeTakeFirst();

export const listServiceAccounts = (db: Db, teamId: string) =>
  db.selectFrom("service_accounts").selectAll().where("team_id", "=", teamId).orderBy("name").execute();

export const insertServiceAccount = (tx: Tx, account: { teamId: string; name: string; createdBy: string }) =>
  tx
    .insertInto("service_accounts")
    .values({ id: newId("ServiceAccount"), team_id: account.teamId, name: account.name, created_by: account.createdBy })
    .returningAll()
    .executeTakeFirstOrThrow();

export async function deleteServiceAccount(tx: Tx, id: string): Promise<void> {
  await tx.deleteFrom("service_accounts").where("id", "=", id).execute();
}
