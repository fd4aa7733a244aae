import { sql } from "kysely";
import type { Db, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";
import type { AccessRequest } from "./access-request.types.js";

export async function findAccessRequest(db: Db | Tx, id: string): Promise<AccessRequest | undefined> {
  return db.selectFrom("access_requests").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The row, locked until the transaction ends (two approvers of one request are serialized). */
export async function lockAccessRequest(tx: Tx, id: string): Promise<AccessRequest | undefined> {
  return tx.selectFrom("access_requests").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
}

/**
 * Serializes one requester's requests (the pending bound) by locking the user row, marks their
 * lapsed pending requests EXPIRED (so the one-pending index lets a new one in), and counts the rest.
 */
export async function pendingOfRequester(tx: Tx, requesterId: string, now: Date): Promise<number> {
  await tx.selectFrom("users").select("id").where("id", "=", requesterId).forUpdate().execute();
  await tx
    .updateTable("access_requests")
    .set({ status: "EXPIRED" })
    .where("requester_id", "=", requesterId)
    .where("status", "=", "PENDING")
    .where("decide_by", "<=", now)
    .execute();
  const row = await tx
    .selectFrom("access_requests")
    .select(sql<string>`count(*)`.as("n"))
    .where("requester_id", "=", requesterId)
    .where("status", "=", "PENDING")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertAccessRequest(
  tx: Tx,
  values: Omit<AccessRequest, "id" | "created_at" | "status" | "expires_at" | "decided_by" | "decided_at" | "deny_reason">,
): Promise<AccessRequest> {
  return tx
    .insertInto("access_requests")
    .values({ id: newId("AccessRequest"), status: "PENDING", ...values })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function decideAccessRequest(
  tx: Tx,
  id: string,
  decision: { status: "APPROVED" | "DENIED"; decidedBy: string; expiresAt?: Date; reason?: string | null },
): Promise<AccessRequest> {
  return tx
    .updateTable("access_requests")
    .set({
      status: decision.status,
      decided_by: decision.decidedBy,
      decided_at: new Date(),
      expires_at: decision.expiresAt ?? null,
      deny_reason: decision.reason ?? null,
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Newest first: a team's requests (team roles and its environments' grants), one environment's, or one requester's. */
export async function listAccessRequests(
  db: Db,
  filter: { teamId?: string; environmentId?: string; requesterId?: string },
  limit: number,
): Promise<AccessRequest[]> {
  let query = db.selectFrom("access_requests").selectAll();
  if (filter.teamId) query = query.where("team_id", "=", filter.teamId);
  if (filter.environmentId) query = query.where("environment_id", "=", filter.environmentId);
  if (filter.requesterId) query = query.where("requester_id", "=", filter.requesterId);
  return query.orderBy("id", "desc").limit(limit).execute();
}
