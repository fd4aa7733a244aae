import type { ColumnType } from "kysely";

/** The runtime tool policy's tables (migration 0015), kept out of database.ts to keep that file short. */

export type Sensitivity = "PUBLIC" | "INTERNAL" | "CONFIDENTIAL" | "RESTRICTED";

/** One role's runtime tool policy on a team (migration 0015; modules/tool-policy). */
export interface ToolPolicyTable {
  team_id: string;
  /** A built-in team role, an API key type, or a custom role's id. */
  role: string;
  /** Set for a custom role (its rows go when it is deleted). */
  custom_role_id: string | null;
  allowed_tools: ColumnType<string[], string, string>;
  denied_tools: ColumnType<string[], string, string>;
  max_sensitivity: Sensitivity | null;
}

/** A role that may touch PHI on the team while minimum-necessary is on (any row: on). */
export interface ToolPolicyPhiRoleTable {
  team_id: string;
  role: string;
  custom_role_id: string | null;
}
