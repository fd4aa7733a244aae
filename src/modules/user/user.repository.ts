import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type User = Row<"users">;

export const findUser = (db: Db | Tx, id: string) => db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();

export const findUserByEmail = (db: Db | Tx, email: string) =>
  db.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirst();

/** A new user row. */
export const insertUser = (tx: Tx, values: { email: string; verified: boolean }) =>
  tx
    .insertInto("users")
    .values({ id: newId("User"), email: values.email, display_name: values.email.split("@")[0] ?? values.email, verified_at: values.verified ? new Date() : null })
    .returningAll()
    .executeTakeFirstOrThrow();

/** Marks the account verified; false when it already was (another request got there first). */
export async function markVerified(tx: Tx, userId: string): Promise<boolean> {
  const updated = await tx.updateTable("users").set({ verified_at: new Date() }).where("id", "=", userId).where("verified_at", "is", null).executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}
