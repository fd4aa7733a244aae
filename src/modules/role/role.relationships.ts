import { ref, type ObjectRef, type Relationship } from "../../authz/model.js";
import { CUSTOM_ROLE_PERMISSIONS } from "../../authz/catalog.js";

/**
 * Custom roles, the role/binding pattern (spicedb/schema.zed: role, role_binding): a role
 * holds each of its permissions as wildcards; a binding ties the role to one team and holds
 * its assignees; the team points at its bindings.
 */
export const bindingId = (roleId: string, teamId: string) => `${roleId}|${teamId}`;

export function rolePermissions(roleId: string, orgId: string, permissions: string[]): Relationship[] {
  const role = ref("role", roleId);
  return [
    { resource: role, relation: "org", subject: ref("organization", orgId) },
    ...permissions.flatMap((name) =>
      ["user", "service_account"].map((type) => ({ resource: role, relation: CUSTOM_ROLE_PERMISSIONS.get(name)!, subject: ref(type, "*") })),
    ),
  ];
}

export function roleBinding(roleId: string, teamId: string, assignee: ObjectRef): Relationship[] {
  const binding = ref("role_binding", bindingId(roleId, teamId));
  return [
    { resource: binding, relation: "role", subject: ref("role", roleId) },
    { resource: ref("team", teamId), relation: "binding", subject: binding },
    { resource: binding, relation: "assignee", subject: assignee },
  ];
}
