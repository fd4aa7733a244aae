import type { ColumnType, Insertable, Kysely, Selectable, Transaction } from "kysely";
import type { ChainRunDecisionTable, ChainRunTable, ChainVersionTable } from "./chain-tables.js";
import type { Sensitivity, ToolPolicyPhiRoleTable, ToolPolicyTable } from "./tool-policy-tables.js";

export type { Sensitivity };
import type { IpAllowlistTable } from "./ip-allowlist-table.js";
import type { AccessRequestTable } from "./access-request-table.js";
import type { SsoConnectionTable, SsoGroupMappingTable } from "./sso-tables.js";
import type { AuthzOutboxTable, AuthzRelationshipTable, AuthzStateTable } from "./authz-tables.js";
import type { AuditEventTable, AuditResult, SecurityEventTable, SecurityLogDropTable } from "./audit-tables.js";
export type { AuditEventTable, AuditResult, SecurityEventTable, SecurityLogDropTable };

export type { AuthzOutboxTable, AuthzRelationshipTable, AuthzStateTable };

/** Row types of every table, one interface per table; `Database` is what Kysely is typed with. */

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export type OrgRole = "ADMIN" | "BILLING_ADMIN" | "MEMBER";
export type TeamRole = "ADMIN" | "MEMBER" | "OPERATOR" | "VIEWER";
export type PrincipalType = "user" | "service_account" | "api_key";
export type ApiKeyType = "FULL_ACCESS" | "INFERENCE_ONLY" | "METRICS_ONLY";

export interface OrganizationTable {
  id: string;
  name: string;
  /** Where invoices and spend alerts go (migration 0012); null until a billing manager sets it. */
  billing_email: ColumnType<string | null, string | null | undefined, string | null>;
  /** The key policy (migration 0016): new keys live at most this many days; null: no cap. */
  key_max_lifetime_days: ColumnType<number | null, number | null | undefined, number | null>;
  /** The key policy: keys without an expiry are refused. */
  key_require_expiry: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
}

export interface UserTable {
  id: string;
  /** Lower-cased; the identity of a person. */
  email: string;
  display_name: string;
  /** Null until the first verified sign-in (OIDC, email_verified) of an account made by a signed-out invitation acceptance. */
  verified_at: Date | null;
  /** The organization whose SSO connection provisioned the account (a managed account); null for platform accounts. */
  managed_by_org_id: ColumnType<string | null, string | null | undefined, never>;
  /** A managed account's issuer and subject: how its connection's tokens find it again. */
  sso_issuer: ColumnType<string | null, string | null | undefined, never>;
  sso_subject: ColumnType<string | null, string | null | undefined, never>;
  /** A managed account's newest token iat (seconds) reconciled: an older token reconciles nothing. */
  sso_reconciled_iat: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: CreatedAt;
}

export interface OrgMembershipTable {
  org_id: string;
  user_id: string;
  role: OrgRole;
  /** Reconciled by the organization's SSO connection at every sign-in; false: granted by hand, never touched by SSO. */
  sso_managed: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
}

export interface TeamTable {
  id: string;
  org_id: string;
  name: string;
  is_default: boolean;
  /** Allowed model:invoke decisions per minute, and per calendar month (UTC); null: no limit (migration 0014). */
  requests_per_minute: ColumnType<number | null, number | null | undefined, number | null>;
  monthly_invocations: ColumnType<number | null, number | null | undefined, number | null>;
  /** Moves with every change of the limits: the gateway's monthly counter is keyed by it. */
  limits_version: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
}

export interface TeamMembershipTable {
  team_id: string;
  principal_id: string;
  principal_type: Exclude<PrincipalType, "api_key">;
  role: TeamRole;
  /** As OrgMembershipTable.sso_managed. */
  sso_managed: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
}

export interface InvitationTable {
  id: string;
  org_id: string;
  email: string;
  role: OrgRole;
  /** null: the default team as MEMBER; a list: exactly those teams. */
  teams: ColumnType<{ teamId: string; role: TeamRole }[] | null, string | null, string | null>;
  token_hash: string;
  status: "PENDING" | "ACCEPTED" | "REVOKED";
  expires_at: Timestamp;
  invited_by: string;
  accepted_by: string | null;
  revoked_by: string | null;
  /** When it was accepted or revoked. */
  decided_at: Date | null;
  created_at: CreatedAt;
}

export interface ApiKeyTable {
  id: string;
  kind: "PERSONAL" | "TEAM" | "SERVICE_ACCOUNT";
  name: string;
  /** The first characters of the secret, shown in lists so people can tell keys apart. */
  prefix: string;
  /** SHA-256 of the whole secret, hex; the secret itself is never stored. */
  secret_hash: string;
  user_id: string | null;
  team_id: string | null;
  service_account_id: string | null;
  type: ApiKeyType | null;
  created_by: string | null;
  created_at: CreatedAt;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  /** The key's own limit of allowed model:invoke decisions per minute (migration 0014); null: none. */
  requests_per_minute: ColumnType<number | null, number | null | undefined, number | null>;
  /** Rotation (migration 0016): the previous secret's hash, valid until previous_secret_expires_at; null: none. */
  previous_secret_hash: ColumnType<string | null, string | null | undefined, string | null>;
  previous_secret_expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  rotated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Who minted the current secret by rotating the key; null: never rotated (created_by minted it). */
  rotated_by: ColumnType<string | null, string | null | undefined, string | null>;
  /** Who minted the previous secret by rotation; null: it was the creator's, or there is none. */
  previous_rotated_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface EnvironmentTable {
  id: string;
  team_id: string;
  name: string;
  restricted: boolean;
  created_at: CreatedAt;
}

export interface ModelTable {
  id: string;
  team_id: string;
  name: string;
  created_by: string | null;
  created_at: CreatedAt;
}

export type Json = ColumnType<unknown, string | null, string | null>;

export interface DeploymentTable {
  id: string;
  model_id: string;
  environment_id: string;
  version: number;
  config: Json;
  /** The one deployment serving this model in this environment; older versions are kept. */
  active: boolean;
  created_by: string | null;
  created_at: CreatedAt;
}

export interface ChainTable {
  id: string;
  team_id: string;
  name: string;
  definition: Json;
  created_by: string | null;
  created_at: CreatedAt;
}

export interface TrainingProjectTable {
  id: string;
  team_id: string;
  name: string;
  created_at: CreatedAt;
}

export interface SecretTable {
  team_id: string;
  name: string;
  version: number;
  /** AES-256-GCM: base64 of iv | tag | ciphertext; never plaintext. */
  ciphertext: string;
  updated_at: Timestamp;
}

export interface ServiceAccountTable {
  id: string;
  team_id: string;
  name: string;
  created_by: string | null;
  created_at: CreatedAt;
}

export interface UsageCountTable {
  org_id: string;
  team_id: string;
  /** The start of the minute the invocations fell in. */
  minute: Date;
  invocations: ColumnType<string, number, number>;
}

export interface RoleTable {
  id: string;
  org_id: string;
  name: string;
  permissions: ColumnType<string[], string, string>;
  created_at: CreatedAt;
}

export interface RoleAssignmentTable {
  role_id: string;
  team_id: string;
  principal_id: string;
  created_at: CreatedAt;
}

export interface Database {
  organizations: OrganizationTable;
  users: UserTable;
  org_memberships: OrgMembershipTable;
  teams: TeamTable;
  team_memberships: TeamMembershipTable;
  invitations: InvitationTable;
  api_keys: ApiKeyTable;
  authz_relationships: AuthzRelationshipTable;
  authz_outbox: AuthzOutboxTable;
  environments: EnvironmentTable;
  models: ModelTable;
  deployments: DeploymentTable;
  chains: ChainTable;
  chain_runs: ChainRunTable;
  chain_run_decisions: ChainRunDecisionTable;
  chain_versions: ChainVersionTable;
  training_projects: TrainingProjectTable;
  secrets: SecretTable;
  service_accounts: ServiceAccountTable;
  usage_counts: UsageCountTable;
  audit_events: AuditEventTable;
  security_events: SecurityEventTable;
  security_log_drops: SecurityLogDropTable;
  roles: RoleTable;
  role_assignments: RoleAssignmentTable;
  authz_state: AuthzStateTable;
  tool_policies: ToolPolicyTable;
  tool_policy_phi_roles: ToolPolicyPhiRoleTable;
  ip_allowlists: IpAllowlistTable;
  access_requests: AccessRequestTable;
  sso_connections: SsoConnectionTable;
  sso_group_mappings: SsoGroupMappingTable;
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
export type Row<T extends keyof Database> = Selectable<Database[T]>;
export type NewRow<T extends keyof Database> = Insertable<Database[T]>;
