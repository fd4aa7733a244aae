import type { ColumnType } from "kysely";
import type { OrgRole, TeamRole } from "./database.js";

/** An organization's own identity provider (issue 16 §1). */
export interface SsoConnectionTable {
  org_id: string;
  /** As given: verification checks the token's iss against it exactly. */
  issuer: string;
  /** As compared (uniqueness, routing): sso-verify.ts normalizeIssuer. */
  issuer_normalized: string;
  audience: string;
  jwks_url: string | null;
  public_key_pem: string | null;
  groups_claim: string;
  version: ColumnType<number, number | undefined, number>;
  updated_by: string | null;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

/** An IdP group of a connection's tokens → the org role and team roles it implies. */
export interface SsoGroupMappingTable {
  org_id: string;
  group_name: string;
  org_role: OrgRole | null;
  teams: ColumnType<{ teamId: string; role: TeamRole }[], string, string>;
  set_by: string;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
