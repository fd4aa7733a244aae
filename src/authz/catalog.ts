import type { TeamRole } from "../db/database.js";

/**
 * The permission catalog: every name the API speaks of (`viewerPermissions`,
 * `permissionCatalog`, custom roles), the SpiceDB object type and permission it means, and
 * which built-in team roles hold it. What a permission *means* is decided in
 * spicedb/schema.zed; this table only names it.
 */
export interface PermissionDefinition {
  name: string;
  objectType: ObjectKind;
  spicedbPermission: string;
  description: string;
  builtInRoles: TeamRole[];
}

export type ObjectKind = "organization" | "team" | "model" | "environment" | "chain";

const ALL: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"];
const OPERATING: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR"];
const WRITING: TeamRole[] = ["ADMIN", "MEMBER"];
const ADMIN: TeamRole[] = ["ADMIN"];

const define = (
  objectType: ObjectKind,
  name: string,
  spicedbPermission: string,
  builtInRoles: TeamRole[],
  description: string,
): PermissionDefinition => ({ name, objectType, spicedbPermission, builtInRoles, description });

export const PERMISSIONS: PermissionDefinition[] = [
  define("organization", "org:view", "view", [], "See the organization and your own memberships"),
  define("organization", "org:manage", "manage", [], "Rename and configure the organization, SSO role mapping"),
  define("organization", "org:manage_members", "manage_members", [], "Invite and remove members, change org roles"),
  define("organization", "org:manage_teams", "manage_teams", [], "Create and delete teams"),
  define("organization", "org:view_all_teams", "view_all_teams", [], "See every team and everything in it"),
  define("organization", "billing:view", "billing_view", [], "See billing and usage"),
  define("organization", "billing:manage", "billing_manage", [], "Manage billing"),
  define("organization", "roles:manage", "roles_manage", [], "Define custom roles and assign any role anywhere"),
  define("organization", "audit:read_all", "audit_read_all", [], "Read and export the organization's whole audit log"),

  define("team", "team:view", "view", ALL, "See the team's models, deployments, environments, chains, training projects"),
  define("team", "audit:read", "audit_read", ALL, "Read the team's audit events"),
  define("team", "metrics:read", "metrics_read", ALL, "Read metrics and logs"),
  define("team", "models:invoke", "models_invoke", OPERATING, "Call the team's models (inference)"),
  define("team", "chains:run", "chains_run", OPERATING, "Run chains and approve their decisions"),
  define("team", "results:export", "results_export", OPERATING, "Export chain run results"),
  define("team", "resources:write", "resources_write", WRITING, "Create and edit models, deployments, chains, training projects; deploy"),
  define("team", "resources:delete", "resources_delete", ADMIN, "Delete models, chains, training projects"),
  define("team", "secrets:read_names", "secrets_read_names", WRITING, "See secret names (to reference them)"),
  define("team", "secrets:manage", "secrets_manage", ADMIN, "Set, rotate and delete secrets"),
  define("team", "team:manage_members", "manage_members", ADMIN, "Manage team members and their roles"),
  define("team", "team:manage_environments", "manage_environments", ADMIN, "Create environments, restrict them, grant access"),
  define("team", "team:manage_keys", "manage_keys", ADMIN, "Create team API keys and service accounts"),

  define("model", "model:view", "view", ALL, "See the model and its deployments"),
  define("model", "model:invoke", "invoke", OPERATING, "Call the model"),
  define("model", "model:edit", "edit", WRITING, "Edit and deploy the model"),
  define("model", "model:delete", "delete", ADMIN, "Delete the model"),
  define("model", "metrics:read", "metrics_read", ALL, "Read the model's metrics and logs"),

  define("environment", "environment:view", "view", ALL, "See the environment"),
  define("environment", "environment:manage", "manage", WRITING, "Deploy, promote, scale and remove deployments here"),
  define("environment", "environment:manage_access", "manage_access", ADMIN, "Restrict the environment and manage its grantees"),

  define("chain", "chain:view", "view", ALL, "See the chain and its runs"),
  define("chain", "chain:run", "run", OPERATING, "Run the chain and approve its decisions"),
  define("chain", "chain:edit", "edit", WRITING, "Edit the chain"),
  define("chain", "chain:delete", "delete", ADMIN, "Delete the chain"),
];

export const permissionsOf = (objectType: ObjectKind) => PERMISSIONS.filter((p) => p.objectType === objectType);

/** The team permissions a custom role may hold, by catalog name → relation on `role`. */
export const CUSTOM_ROLE_PERMISSIONS = new Map(
  permissionsOf("team").map((p) => [p.name, p.spicedbPermission === "view" ? "team_view" : p.spicedbPermission]),
);
