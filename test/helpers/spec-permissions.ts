/**
 * PRODUCT.md §3 and §4 as tables: who holds which permission by built-in role. Written from
 * the spec alone (no import of src/authz/catalog.ts or schema.zed), for the reference models
 * of model-based.test.ts and attacker-model.test.ts.
 */
export type OrgRole = "ADMIN" | "BILLING_ADMIN" | "MEMBER";
export type TeamRole = "ADMIN" | "MEMBER" | "OPERATOR" | "VIEWER";

/** §3, by org role. */
export const ORG_PERMS: Record<string, OrgRole[]> = {
  "org:view": ["ADMIN", "BILLING_ADMIN", "MEMBER"],
  "org:manage": ["ADMIN"],
  "org:manage_members": ["ADMIN"],
  "org:manage_teams": ["ADMIN"],
  "org:view_all_teams": ["ADMIN"],
  "billing:view": ["ADMIN", "BILLING_ADMIN"],
  "billing:manage": ["ADMIN", "BILLING_ADMIN"],
  "roles:manage": ["ADMIN"],
  "audit:read_all": ["ADMIN"],
};

export const ALL_TEAM_ROLES: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"];
const OPERATING: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR"];
const WRITING: TeamRole[] = ["ADMIN", "MEMBER"];

/** §4, by team role. */
export const TEAM_PERMS: Record<string, TeamRole[]> = {
  "team:view": ALL_TEAM_ROLES,
  "audit:read": ALL_TEAM_ROLES,
  "metrics:read": ALL_TEAM_ROLES,
  "models:invoke": OPERATING,
  "chains:run": OPERATING,
  "results:export": OPERATING,
  "resources:write": WRITING,
  "secrets:read_names": WRITING,
  "resources:delete": ["ADMIN"],
  "secrets:manage": ["ADMIN"],
  "team:manage_members": ["ADMIN"],
  "team:manage_environments": ["ADMIN"],
  "team:manage_keys": ["ADMIN"],
};
