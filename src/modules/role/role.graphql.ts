import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { OrganizationRef } from "../organization/organization.graphql.js";
import { orgRef } from "../organization/organization.service.js";
import { TeamRef } from "../team/team.graphql.js";
import { PrincipalRef, loadPrincipal } from "../user/user.graphql.js";
import { assignRole, createRole, deleteRole, getRole, listAssignments, listRoles, roleById, unassignRole, updateRole, type Role, type RoleAssignment } from "./role.service.js";

const RoleRef = builder.objectRef<Role>("Role");
const RoleAssignmentRef = builder.objectRef<RoleAssignment>("RoleAssignment");

builder.node(RoleRef, {
  id: { resolve: (role) => role.id },
  // Custom roles are org ADMIN business (roles:manage).
  authScopes: (role) => ({ visible: scopeKey(orgRef(role.org_id), "roles_manage") }),
  loadOne: (id, ctx) => getRole(ctx, id),
  fields: (t) => ({
    name: t.exposeString("name"),
    permissions: t.exposeStringList("permissions"),
    assignments: t.field({ type: [RoleAssignmentRef], resolve: (role, _args, ctx) => listAssignments(ctx.db, role.id) }),
  }),
});

builder.objectType(RoleAssignmentRef, {
  fields: (t) => ({
    role: t.field({ type: RoleRef, resolve: async (a, _args, ctx) => (await roleById(ctx.db, a.role_id))! }),
    team: t.field({ type: TeamRef, resolve: async (a, _args, ctx) => (await ctx.loaders.team.load(a.team_id))! }),
    principal: t.field({ type: PrincipalRef, resolve: async (a, _args, ctx) => (await loadPrincipal(ctx.loaders, a.principal_id))! }),
  }),
});

builder.objectFields(OrganizationRef, (t) => ({
  roles: t.field({
    type: [RoleRef],
    authScopes: (org) => ({ can: scopeKey(orgRef(org.id), "roles_manage") }),
    resolve: (org, _args, ctx) => listRoles(ctx.db, org.id),
  }),
}));

builder.mutationFields((t) => ({
  createRole: t.field({
    audit: "role.create",
    type: RoleRef,
    args: { organizationId: t.arg.id({ required: true }), name: t.arg.string({ required: true }), permissions: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) => createRole(ctx, args.organizationId, args.name, args.permissions),
  }),
  updateRole: t.field({
    audit: "role.update",
    type: RoleRef,
    args: { id: t.arg.id({ required: true }), permissions: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) => updateRole(ctx, args.id, args.permissions),
  }),
  deleteRole: t.boolean({
    audit: "role.delete",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deleteRole(ctx, args.id),
  }),
  assignRole: t.field({
    audit: "role.assign",
    type: RoleAssignmentRef,
    args: { roleId: t.arg.id({ required: true }), teamId: t.arg.id({ required: true }), principalId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => assignRole(ctx, args.roleId, args.teamId, args.principalId),
  }),
  unassignRole: t.boolean({
    audit: "role.unassign",
    args: { roleId: t.arg.id({ required: true }), teamId: t.arg.id({ required: true }), principalId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => unassignRole(ctx, args.roleId, args.teamId, args.principalId),
  }),
}));
