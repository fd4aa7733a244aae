import type { ColumnType, Generated } from "kysely";

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

/** The tables of the relationship record (src/authz/relationship.repository.ts), kept apart from database.ts for its length. */

/** The durable record of every relationship SpiceDB must hold (see authz/relationship-writes.ts). */
export interface AuthzRelationshipTable {
  resource_type: string;
  resource_id: string;
  relation: string;
  subject_type: string;
  subject_id: string;
  subject_relation: string;
  org_id: string | null;
  team_id: string | null;
  /** The relationship's caveat (schema.zed `with <name>`) and its context as JSON; null without one. Not part of the key. */
  caveat_name: ColumnType<string | null, string | null | undefined, string | null>;
  caveat_context: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  /** When the relationship stops counting (schema.zed `with expiration`); null: never. Reads skip an expired row. Not part of the key. */
  expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** Relationship keys whose SpiceDB state may differ from the record, until applied. */
export interface AuthzOutboxTable extends Omit<AuthzRelationshipTable, "org_id" | "team_id" | "caveat_name" | "caveat_context" | "expires_at"> {
  id: Generated<string>;
  created_at: CreatedAt;
}

export interface AuthzStateTable {
  /** Always 1: a single row. */
  id: number;
  zed_token: string;
  /** Committed changes so far (bigint: read back as a string). */
  revision: ColumnType<string, number | undefined, number>;
}
