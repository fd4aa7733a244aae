import type { TeamRole } from "../db/database.js";
import type { EntityType } from "../ids.js";

/**
 * The permission catalog: every name the API speaks of (`viewerPermissions`,
 * `permissionCatalog`, custom roles, the gateway's actions), the SpiceDB object type and
 * permission it means, and which built-in team roles hold it. What a permission *means* is
 * decided in spicedb/schema.zed; this table only names it.
 *
 * One rule names the SpiceDB permission, so a name reads the same from schema.zed to the API:
 * catalog name `<area>:<verb>` on an object whose type is the area (`org` standing for
 * `organization`) is SpiceDB permission `<verb>`; on any other type it is `<area>_<verb>`.
 * `team:manage_members` on team → `manage_members`; `billing:view` on organization →
 * `billing_view`; `metrics:read` on model → `metrics_read`.
 */
export interface PermissionDefinition {
  name: string;
  objectType: ObjectKind;
  /** Derived from `name` and `objectType` by the rule above, never written by hand. */
  spicedbPermission: string;
  description: string;
  builtInRoles: TeamRole[];
}

export type ObjectKind = "organization" | "team" | "model" | "environment" | "chain";

const ALL: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"];
const OPERATING: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR"];
const WRITING: TeamRole[] = ["ADMIN", "MEMBER"];
const ADMIN: TeamRole[] = ["ADMIN"];

/** The catalog's object type of an id's entity type (`viewerPermissions(on:)`, `explainPermission(on:)`); undefined: no permissions there. */
export const CATALOG_KIND_OF: Partial<Record<EntityType, ObjectKind>> = {
  Organization: "organization",
  Team: "team",
  Model: "model",
  Environment: "environment",
  Chain: "chain",
};

/** The area of a catalog name that means "this object itself", per object type. */
const AREA: Record<ObjectKind, string> = { organization: "org", team: "team", model: "model", environment: "environment", chain: "chain" };

/** The SpiceDB permission a catalog name means on an object of `objectType` (the rule above). */
export function derivedSpicedbPermission(objectType: ObjectKind, name: string): string {
  const [area, verb, ...rest] = name.split(":");
  if (!area || !verb || rest.length > 0) throw new Error(`Catalog name "${name}" is not <area>:<verb>`);
  return area === AREA[objectType] ? verb : `${area}_${verb}`;
}

const define = (objectType: ObjectKind, name: string, builtInRoles: TeamRole[], description: string): PermissionDefinition => ({
  name,
  objectType,
  spicedbPermission: derivedSpicedbPermission(objectType, name),
  builtInRoles,
  description,
});

export const PERMISSIONS: PermissionDefinition[] = [
  define("organization", "org:view", [], "See the organization and your own memberships"),
  define("organization", "org:manage", [], "Rename and configure the organization, SSO role mapping"),
  define("organization", "org:manage_members", [], "Invite and remove members, change org roles"),
  define("organization", "org:manage_teams", [], "Create and delete teams"),
  define("organization", "org:view_all_teams", [], "See every team and everything in it"),
  define("organization", "billing:view", [], "See billing and usage"),
  define("organization", "billing:manage", [], "Manage billing"),
  define("organization", "roles:manage", [], "Define custom roles and assign any role anywhere"),
  define("organization", "audit:read_all", [], "Read and export the organization's whole audit log"),

  define("team", "team:view", ALL, "See the team's models, deployments, environments, chains, training projects"),
  define("team", "audit:read", ALL, "Read the team's audit events"),
  define("team", "metrics:read", ALL, "Read metrics and logs"),
  define("team", "models:invoke", OPERATING, "Call the team's models (inference)"),
  define("team", "chains:run", OPERATING, "Run chains and approve their decisions"),
  define("team", "results:export", OPERATING, "Export chain run results"),
  define("team", "resources:write", WRITING, "Create and edit models, deployments, chains, training projects; deploy"),
  define("team", "resources:delete", ADMIN, "Delete models, chains, training projects"),
  define("team", "secrets:read_names", WRITING, "See secret names (to reference them)"),
  define("team", "secrets:manage", ADMIN, "Set, rotate and delete secrets"),
  define("team", "team:manage_members", ADMIN, "Manage team members and their roles"),
  define("team", "team:manage_environments", ADMIN, "Create environments, restrict them, grant access"),
  define("team", "team:manage_keys", ADMIN, "Create team API keys and service accounts"),

  define("model", "model:view", ALL, "See the model and its deployments"),
  define("model", "model:invoke", OPERATING, "Call the model"),
  define("model", "model:edit", WRITING, "Edit and deploy the model"),
  define("model", "model:delete", ADMIN, "Delete the model"),
  define("model", "metrics:read", ALL, "Read the model's metrics and logs"),

  define("environment", "environment:view", ALL, "See the environment"),
  define("environment", "environment:manage", WRITING, "Deploy, promote, scale and remove deployments here"),
  define("environment", "environment:manage_access", ADMIN, "Restrict the environment and manage its grantees"),
  // Added after the three above: listed last, so clients comparing lists see the old order first.
  define("environment", "environment:invoke", OPERATING, "Call models in this environment"),
  define("environment", "metrics:read", ALL, "Read metrics and logs of this environment"),

  define("chain", "chain:view", ALL, "See the chain and its runs"),
  define("chain", "chain:run", OPERATING, "Run the chain and approve its decisions"),
  define("chain", "chain:edit", WRITING, "Edit the chain"),
  define("chain", "chain:delete", ADMIN, "Delete the chain"),
];

export const permissionsOf = (objectType: ObjectKind) => PERMISSIONS.filter((p) => p.objectType === objectType);

/**
 * The SpiceDB permission of catalog name `catalogName` on `objectType`. Throws for a name the
 * catalog does not define there, so a table built with it fails at module load, not at a check.
 */
export function spicedbName(objectType: ObjectKind, catalogName: string): string {
  const definition = PERMISSIONS.find((p) => p.objectType === objectType && p.name === catalogName);
  if (!definition) throw new Error(`The permission catalog has no "${catalogName}" on ${objectType}`);
  return definition.spicedbPermission;
}

/** The team permissions a custom role may hold, by catalog name → relation on `role`. */
export const CUSTOM_ROLE_PERMISSIONS = new Map(
  permissionsOf("team").map((p) => [p.name, p.spicedbPermission === "view" ? "team_view" : p.spicedbPermission]),
);
