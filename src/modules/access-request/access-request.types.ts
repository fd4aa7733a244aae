import type { AccessRequestStatus } from "../../db/access-request-table.js";
import type { Row } from "../../db/database.js";

export type AccessRequest = Row<"access_requests">;

/** The longest access one request may ask for: one week. */
export const MAX_DURATION_MINUTES = 7 * 24 * 60;
/** A justification is this long at most (after trimming; never empty). So is a denial's reason. */
export const MAX_JUSTIFICATION = 1000;
/** Pending requests one requester may have at a time (one user cannot grow the table without bound). */
export const MAX_PENDING_PER_REQUESTER = 10;
/** A pending request that nobody decides within this long lapses (EXPIRED). */
export const DECIDE_WITHIN_MS = 24 * 60 * 60 * 1000;
/** Listed per team, environment or requester: the newest this many. */
export const REQUESTS_LISTED = 200;

/**
 * The status as of `now`: an APPROVED request whose access has ended, and a PENDING one
 * nobody decided in time, read EXPIRED (computed, so exact at the instant; nothing sweeps).
 */
export function statusOf(request: AccessRequest, now = new Date()): AccessRequestStatus {
  if (request.status === "APPROVED" && request.expires_at && now >= request.expires_at) return "EXPIRED";
  if (request.status === "PENDING" && now >= request.decide_by) return "EXPIRED";
  return request.status;
}

/** When the access ends (APPROVED), or when the request lapses undecided (PENDING); null once DENIED. */
export function expiresAtOf(request: AccessRequest): Date | null {
  if (request.status === "DENIED") return null;
  if (request.status === "PENDING" || (request.status === "EXPIRED" && !request.expires_at)) return request.decide_by;
  return request.expires_at;
}
