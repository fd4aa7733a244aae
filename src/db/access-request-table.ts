import type { ColumnType } from "kysely";
import type { TeamRole } from "./database.js";

export type AccessRequestStatus = "PENDING" | "APPROVED" | "DENIED" | "EXPIRED";

/** A user's request for a team role (`role`) or an environment grant (`environment_id`), for a while (modules/access-request). */
export interface AccessRequestTable {
  id: string;
  org_id: string;
  team_id: string;
  environment_id: string | null;
  role: TeamRole | null;
  requester_id: string;
  justification: string;
  duration_minutes: number;
  /** As stored: an APPROVED request past `expires_at`, or a PENDING one past `decide_by`, reads EXPIRED (access-request.types.ts). */
  status: AccessRequestStatus;
  decide_by: Date;
  expires_at: Date | null;
  decided_by: string | null;
  decided_at: Date | null;
  deny_reason: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
}
