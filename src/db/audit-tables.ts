import type { ColumnType, Generated } from "kysely";
import type { Json } from "./database.js";

/* The audit log and the security log (migrations 0004, 0009): split out of database.ts to keep it readable. */

export type AuditResult = "SUCCESS" | "DENIED" | "ERROR";

export interface AuditEventTable {
  id: string;
  /** The hash chain it belongs to: its organization's id ("" for events of older versions outside any: those now go to security_events). */
  chain: string;
  /** Its position in the chain. */
  seq: ColumnType<string, number, never>;
  org_id: string | null;
  team_id: string | null;
  at: Date;
  actor_id: string | null;
  /** api_key or jwt. */
  auth_method: string | null;
  /** The key id or the JWT subject. */
  auth_ref: string | null;
  action: string;
  target_id: string | null;
  result: AuditResult;
  error: string | null;
  diff: Json;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

/** A mutation by a caller who is not a member of the organization it names (migration 0009). */
export interface SecurityEventTable {
  seq: Generated<string>;
  at: Date;
  /** Whose rows these are, for the per-source bound: `addr:<client address>` signed out, else `principal:<kind>:<id>`. */
  source: string;
  client_address: string | null;
  actor_id: string | null;
  auth_method: string | null;
  auth_ref: string | null;
  action: string;
  /** The organization the attempt named or touched (the caller is not a member of it). */
  claimed_org_id: string | null;
  team_id: string | null;
  target_id: string | null;
  result: AuditResult;
  error: string | null;
  diff: Json;
  request_id: string | null;
}

/** Security events trimmed to keep the log bounded, per source. */
export interface SecurityLogDropTable {
  source: string;
  dropped: ColumnType<string, number, number>;
  last_dropped_at: Date;
}
