import type { ColumnType } from "kysely";

/** An organization's or a team's IP allowlist (ip-allowlist.repository.ts); no row: no restriction. */
export interface IpAllowlistTable {
  scope_id: string;
  org_id: string;
  team_id: string | null;
  /** Canonical CIDRs as JSON (`["10.0.0.0/8", "2001:db8::/32"]`). */
  cidrs: ColumnType<string[], string, string>;
  updated_by: string | null;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
