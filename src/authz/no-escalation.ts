import type { ApiKeyType, OrgRole, TeamRole } from "../db/database.js";
import { forbidden } from "../errors.js";
import type { Authorizer } from "./authorizer.js";
import { permissionsOf } from "./catalog.js";
import type { ObjectRef } from "./model.js";

/**
 * No escalation (PRODUCT.md §10): no principal grants, on any scope, a permission it does not
 * itself hold there. Every granting mutation — team and org roles, custom-role assignments,
 * service-account roles, key types, environment grants, chain shares, invitations — states
 * what its grant confers, as SpiceDB permissions on the scope, and calls `requireHeld` after
 * its own gate. The model is Kubernetes RBAC's: a binding is refused unless the binder already
 * holds every permission of the role on that scope.
 */

/** The team permissions (schema.zed, definition team) each built-in team role confers. */
export const TEAM_ROLE_GRANTS: Record<TeamRole, string[]> = Object.fromEntries(
  (["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const).map((role) => [
    role,
    [
      ...permissionsOf("team").filter((p) => p.builtInRoles.includes(role)).map((p) => p.spicedbPermission),
      // Renaming the team is ADMIN-only and not in the catalog: only team ADMINs grant ADMIN.
      ...(role === "ADMIN" ? ["manage"] : []),
    ],
  ]),
) as Record<TeamRole, string[]>;

/** The organization permissions (definition organization) each org role confers. */
export const ORG_ROLE_GRANTS: Record<OrgRole, string[]> = {
  ADMIN: permissionsOf("organization").map((p) => p.spicedbPermission),
  BILLING_ADMIN: ["view", "billing_view", "billing_manage"],
  MEMBER: ["view"],
};

/** The team permissions a team key of each type holds (definition team: full_access_key, inference_key, metrics_key). */
export const KEY_TYPE_GRANTS: Record<ApiKeyType, string[]> = {
  FULL_ACCESS: ["view", "audit_read", "metrics_read", "models_invoke", "chains_run", "results_export", "resources_write", "secrets_read_names"],
  INFERENCE_ONLY: ["models_invoke"],
  METRICS_ONLY: ["metrics_read"],
};

/** The chain permissions each share confers (definition chain: viewer, runner, editor). */
export const CHAIN_ACCESS_GRANTS: Record<"VIEWER" | "RUNNER" | "EDITOR", string[]> = {
  VIEWER: ["view"],
  RUNNER: ["view", "run"],
  EDITOR: ["view", "run", "edit"],
};

/** The team permissions a custom role of these catalog names confers. */
export const customRoleGrants = (catalogNames: string[]): string[] =>
  catalogNames.map((name) => permissionsOf("team").find((p) => p.name === name)!.spicedbPermission);

/**
 * An environment grant unlocks managing deployments there while it is restricted: the granter
 * must be one who could manage there were it unrestricted (schema.zed environment#team_writer_in_scope).
 */
export const ENVIRONMENT_GRANT = ["team_writer_in_scope"];

/**
 * FORBIDDEN unless the caller holds every one of `permissions` on `scope` (one bulk check).
 * Call it after the operation's own gate, so an invisible scope has already answered NOT_FOUND.
 */
export async function requireHeld(authz: Authorizer, scope: ObjectRef, permissions: string[], action: string): Promise<void> {
  const unique = [...new Set(permissions)];
  const held = await Promise.all(unique.map((permission) => authz.can(scope, permission)));
  if (held.every(Boolean)) return;
  throw forbidden(`You cannot ${action}: it confers permissions you do not hold on this ${scope.type.replace("_", " ")}`);
}

/**
 * FORBIDDEN unless the caller holds, on the team and on each of its environments, every
 * permission `subject` holds there: for acting through someone else's credential (a key of an
 * existing service account acts with everything the account holds).
 */
export async function requireDominates(
  authz: Authorizer,
  subject: ObjectRef,
  team: ObjectRef,
  environments: ObjectRef[],
  action: string,
): Promise<void> {
  const theirs = authz.asSubject(subject);
  const questions: [ObjectRef, string][] = [
    ...TEAM_ROLE_GRANTS.ADMIN.map((p): [ObjectRef, string] => [team, p]),
    ...environments.map((env): [ObjectRef, string] => [env, "manage"]),
  ];
  const [theyHold, weHold] = await Promise.all([
    Promise.all(questions.map(([resource, p]) => theirs.can(resource, p))),
    Promise.all(questions.map(([resource, p]) => authz.can(resource, p))),
  ]);
  if (theyHold.every((held, i) => !held || weHold[i])) return;
  throw forbidden(`You cannot ${action}: it holds permissions you do not hold on this team`);
}
