import { ref, type Relationship } from "../../authz/model.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
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
 * so their one relationship (self) is recorded outside any organization. `verified`: whoever
 * creates the account vouches for the email (an OIDC token with email_verified, the operator
 * running bootstrap); a signed-out invitation acceptance does not.
 */
export async function findOrCreateUser(tx: Tx, email: string, options: { verified: boolean }): Promise<{ user: User; created: boolean }> {
  const existing = await findUserByEmail(tx, email);
  if (existing) return { user: existing, created: false };
  const user = await tx
    .insertInto("users")
    .values({ id: newId("User"), email, display_name: email.split("@")[0] ?? email, verified_at: options.verified ? new Date() : null })
    .returningAll()
    .executeTakeFirstOrThrow();
  await writeRelationships(tx, {}, { add: [userSelf(user.id)] });
  return { user, created: true };
}

/** Marks the account verified; false when it already was (another request got there first). */
export async function markVerified(tx: Tx, userId: string): Promise<boolean> {
  const updated = await tx.updateTable("users").set({ verified_at: new Date() }).where("id", "=", userId).where("verified_at", "is", null).executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}
