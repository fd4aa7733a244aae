import { CATALOG_KIND_OF, PERMISSIONS, permissionsOf, type PermissionDefinition } from "../../authz/catalog.js";
import { builder } from "../../graphql/builder.js";
import { badInput } from "../../errors.js";
import { typeOfId } from "../../ids.js";
import { TeamRoleEnum } from "../team/team.graphql.js";

const PermissionDefinitionRef = builder.objectRef<PermissionDefinition>("PermissionDefinition").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    description: t.exposeString("description"),
    builtInRoles: t.field({
      type: [TeamRoleEnum],
      description: "The built-in team roles that hold it (empty for organization permissions).",
      resolve: (p) => p.builtInRoles,
    }),
  }),
});

builder.queryFields((t) => ({
  permissionCatalog: t.field({
    type: [PermissionDefinitionRef],
    resolve: () => PERMISSIONS,
  }),
  viewerPermissions: t.stringList({
    description: "Every permission name the caller holds on the object `on`; NOT_FOUND if they cannot view it.",
    args: { on: t.arg.id({ required: true }) },
    resolve: async (_root, { on }, ctx) => {
      const type = typeOfId(on);
      const kind = type && CATALOG_KIND_OF[type];
      if (!kind) throw badInput("Permissions are defined on organizations, teams, models, environments and chains");
      const resource = { type: kind, id: on };
      // A team is reachable by its chains' grantees too (who then hold none of its permissions).
      const visibility = kind === "team" ? "browse" : "view";
      // Visibility and every permission of the kind go to SpiceDB as one bulk check.
      const definitions = permissionsOf(kind);
      const [, ...held] = await Promise.all([
        ctx.authz.requireVisible(resource, visibility),
        ...definitions.map((p) => ctx.authz.can(resource, p.spicedbPermission)),
      ]);
      return definitions.filter((_, i) => held[i]).map((p) => p.name);
    },
  }),
}));
