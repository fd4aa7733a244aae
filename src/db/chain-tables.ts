import type { ColumnType } from "kysely";

/** Row types of the chain runs' tables (database.ts lists them in `Database`). */

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Json = ColumnType<unknown, string | null, string | null>;

export type ChainRunStatus = "QUEUED" | "RUNNING" | "WAITING_FOR_APPROVAL" | "SUCCEEDED" | "FAILED" | "CANCELLED";

export interface ChainRunTable {
  id: string;
  chain_id: string;
  status: ChainRunStatus;
  input: Json;
  /** What the runtime reported last (updateChainRun). */
  result: Json;
  /** The question a WAITING_FOR_APPROVAL run asks; null otherwise. */
  pending_decision: string | null;
  started_by: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** A person's answer to a waiting run's question (decideChainRun). */
export interface ChainRunDecisionTable {
  id: ColumnType<string, never, never>;
  run_id: string;
  decided_by: string;
  approve: boolean;
  comment: string | null;
  question: string;
  decided_at: CreatedAt;
}

/** Every definition a chain has had, version 1 first (createChain, updateChain). */
export interface ChainVersionTable {
  chain_id: string;
  version: number;
  definition: Json;
  changed_by: string | null;
  created_at: CreatedAt;
}
