import { builder } from "../../graphql/builder.js";
import { explainPermission, type PermissionExplanation } from "./explain.service.js";

const PermissionExplanationRef = builder.objectRef<PermissionExplanation>("PermissionExplanation").implement({
  fields: (t) => ({
    allowed: t.exposeBoolean("allowed"),
    path: t.exposeStringList("path", {
      description: 'Human-readable steps of the path that decided, e.g. ["team MEMBER", "environment restricted: no grant"].',
    }),
  }),
});

builder.queryFields((t) => ({
  explainPermission: t.field({
    type: PermissionExplanationRef,
    description:
      "Why `permission` (a catalog name valid on `on`'s type) is allowed or denied to the caller, or to `principalId` " +
      "(a user, service account or API key; that takes team:manage_members on the object's team, or org:manage_members). NOT_FOUND if the caller cannot view `on` or the principal.",
    args: { on: t.arg.id({ required: true }), permission: t.arg.string({ required: true }), principalId: t.arg.id() },
    resolve: (_root, args, ctx) => explainPermission(ctx, args.on, args.permission, args.principalId),
  }),
}));
