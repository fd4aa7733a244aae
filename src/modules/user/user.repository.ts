import { ref, type Relationship } from "../../authz/model.js";
import { writeRelationships } from "../../authz/relationships.js";
import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type User = Row<"users">;

export const findUser = (db: Db | Tx, id: string) => db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();

export const findUserByEmail = (db: Db | Tx, email: string) =>
  db.selectFrom("users").selectAll().where("email", "=", email).executeTakeFirst();

/** A user sees themselves (spicedb/schema.zed: user#self). */
export const userSelf = (userId: string): Relationship => ({
  resource: ref("user", userId),
  relation: "self",
  subject: ref("user", userId),
});

/**
 * The user with this email, created if new. Users belong to no organization by themselves,
 * so their one relationship (self) is recorded outside any organization.
 */
export async function findOrCreateUser(tx: Tx, email: string): Promise<{ user: User; created: boolean }> {
  const existing = await findUserByEmail(tx, email);
  if (existing) return { user: existing, created: false };
  const user = await tx
    .insertInto("users")
    .values({ id: newId("User"), email, display_name: email.split("@")[0] ?? email })
    .returningAll()
    .executeTakeFirstOrThrow();
  await writeRelationships(tx, {}, { add: [userSelf(user.id)] });
  return { user, created: true };
}
