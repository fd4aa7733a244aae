import type { Db, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type User = Row<"users">;

export const findUser = (db: Db | Tx, id: string) => db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();

/**
 * The platform account with this email. Managed accounts (provisioned by an organization's SSO
 * connection) are never found by email: that organization's IdP can mint any email.
 */
export const findUserByEmail = (db: Db | Tx, email: string) =>
  db.selectFrom("users").selectAll().where("email", "=", email).where("managed_by_org_id", "is", null).executeTakeFirst();

/** The account the organization's connection provisioned for this issuer's subject, if any. */
export const findManagedUser = (db: Db | Tx, orgId: string, issuer: string, subject: string) =>
  db
    .selectFrom("users")
    .selectAll()
    .where("managed_by_org_id", "=", orgId)
    .where("sso_issuer", "=", issuer)
    .where("sso_subject", "=", subject)
    .executeTakeFirst();

/** A new account managed by the organization (verified: its IdP vouches for the email). */
export const insertManagedUser = (tx: Tx, values: { orgId: string; issuer: string; subject: string; email: string }) =>
  tx
    .insertInto("users")
    .values({
      id: newId("User"),
      email: values.email,
      display_name: values.email.split("@")[0] ?? values.email,
      verified_at: new Date(),
      managed_by_org_id: values.orgId,
      sso_issuer: values.issuer,
      sso_subject: values.subject,
    })
    .returningAll()
    .executeTakeFirstOrThrow();

/**
 * Records that a token issued at `iat` reconciled the managed account; only ever moves forward.
 * False when a newer one already did (the token is older: it must reconcile nothing).
 */
export async function markSsoReconciled(db: Db | Tx, userId: string, iat: number): Promise<boolean> {
  const updated = await db
    .updateTable("users")
    .set({ sso_reconciled_iat: iat })
    .where("id", "=", userId)
    .where((eb) => eb.or([eb("sso_reconciled_iat", "is", null), eb("sso_reconciled_iat", "<=", iat)]))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}

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
