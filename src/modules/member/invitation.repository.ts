import type { Db, Row, Tx } from "../../db/database.js";

export type Invitation = Row<"invitations">;

export const findInvitationByTokenHash = (db: Db | Tx, hash: string) =>
  db.selectFrom("invitations").selectAll().where("token_hash", "=", hash).executeTakeFirst();

export const listPendingInvitations = (db: Db, orgId: string) =>
  db
    .selectFrom("invitations")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("status", "=", "PENDING")
    .where("expires_at", ">", new Date())
    .orderBy("created_at", "desc")
    .execute();

/** Marks a pending invitation accepted; undefined when it was not pending any more (used twice). */
export const markAccepted = (tx: Tx, id: string, userId: string) =>
  tx
    .updateTable("invitations")
    .set({ status: "ACCEPTED", accepted_by: userId })
    .where("id", "=", id)
    .where("status", "=", "PENDING")
    .returningAll()
    .executeTakeFirst();
