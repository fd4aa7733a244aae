import { sql } from "kysely";
import type { Db, OrgRole, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

/** An invitation, with its inviter's current org role: an invitation is void once that is not ADMIN. */
export type Invitation = Row<"invitations"> & { inviter_role: OrgRole | null };

export type InvitationStatus = "PENDING" | "ACCEPTED" | "REVOKED" | "EXPIRED" | "VOID";

/** What an invitation is now: stored (accepted, revoked) or derived (expired, void). */
export function invitationStatus(invitation: Invitation, now = Date.now()): InvitationStatus {
  if (invitation.status !== "PENDING") return invitation.status;
  if (invitation.expires_at.getTime() <= now) return "EXPIRED";
  if (invitation.inviter_role !== "ADMIN") return "VOID";
  return "PENDING";
}

const withInviter = (db: Db | Tx) =>
  db
    .selectFrom("invitations as i")
    .leftJoin("org_memberships as m", (join) => join.onRef("m.org_id", "=", "i.org_id").onRef("m.user_id", "=", "i.invited_by"))
    .selectAll("i")
    .select("m.role as inviter_role");

export const findInvitation = (db: Db | Tx, id: string) => withInviter(db).where("i.id", "=", id).executeTakeFirst();

export const findInvitationByTokenHash = (db: Db | Tx, hash: string) => withInviter(db).where("i.token_hash", "=", hash).executeTakeFirst();

/**
 * The organization's invitations, pending ones first (a pending invitation cannot be buried
 * under newer decided ones, out of its co-admins' sight), then the newest decided ones.
 */
export const listInvitations = (db: Db, orgId: string, limit: number) =>
  withInviter(db)
    .where("i.org_id", "=", orgId)
    .orderBy(sql`i.status = 'PENDING'`, "desc")
    .orderBy("i.created_at", "desc")
    .orderBy("i.id", "desc")
    .limit(limit)
    .execute();

export const insertInvitation = (
  tx: Tx,
  values: { orgId: string; email: string; role: OrgRole; teams: unknown; tokenHash: string; expiresAt: Date; invitedBy: string },
) =>
  tx
    .insertInto("invitations")
    .values({
      id: newId("Invitation"),
      org_id: values.orgId,
      email: values.email,
      role: values.role,
      teams: values.teams === null ? null : JSON.stringify(values.teams),
      token_hash: values.tokenHash,
      status: "PENDING",
      expires_at: values.expiresAt,
      invited_by: values.invitedBy,
    })
    .returning("id")
    .executeTakeFirstOrThrow();

/** Marks a pending, unexpired invitation accepted; undefined when it was not any more (used twice, expired, revoked). */
export const markAccepted = (tx: Tx, id: string, userId: string) =>
  tx
    .updateTable("invitations")
    .set({ status: "ACCEPTED", accepted_by: userId, decided_at: new Date() })
    .where("id", "=", id)
    .where("status", "=", "PENDING")
    .where("expires_at", ">", new Date())
    .returning("id")
    .executeTakeFirst();

/** Marks a pending invitation revoked; undefined when it was already decided. */
export const markRevoked = (tx: Tx, id: string, revokedBy: string) =>
  tx
    .updateTable("invitations")
    .set({ status: "REVOKED", revoked_by: revokedBy, decided_at: new Date() })
    .where("id", "=", id)
    .where("status", "=", "PENDING")
    .returning("id")
    .executeTakeFirst();

/** Revokes every pending invitation `userId` sent (their account was not theirs until verified). */
export const revokeInvitationsSentBy = (tx: Tx, userId: string) =>
  tx
    .updateTable("invitations")
    .set({ status: "REVOKED", revoked_by: userId, decided_at: new Date() })
    .where("invited_by", "=", userId)
    .where("status", "=", "PENDING")
    .execute();
