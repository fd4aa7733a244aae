import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { OrganizationRef } from "../organization/organization.graphql.js";
import { orgRef } from "../organization/organization.service.js";
import { keyPolicyOf, setKeyPolicy, type KeyPolicy } from "./key-policy.service.js";

export const KeyPolicyRef = builder.objectRef<KeyPolicy>("KeyPolicy").implement({
  description: "An organization's policy for new keys and rotations (issue 16).",
  fields: (t) => ({
    maxLifetimeDays: t.exposeInt("maxLifetimeDays", { nullable: true, description: "New keys live at most this many days; null: no cap." }),
    requireExpiry: t.exposeBoolean("requireExpiry", { description: "Keys without an expiry are refused." }),
  }),
});

builder.objectFields(OrganizationRef, (t) => ({
  keyPolicy: t.field({
    type: KeyPolicyRef,
    description: "The key policy (org:view: its members, whose new keys it binds; not its keys or service accounts).",
    authScopes: (org) => ({ can: scopeKey(orgRef(org.id), "view") }),
    resolve: (org) => keyPolicyOf(org),
  }),
}));

builder.mutationFields((t) => ({
  setKeyPolicy: t.field({
    audit: "organization.set_key_policy",
    type: OrganizationRef,
    description:
      "Sets the organization's key policy (org:manage: org ADMINs): maxLifetimeDays 1..3650 or null (no cap); requireExpiry refuses keys without expiresAt. Binds keys minted and rotated from now on.",
    args: { organizationId: t.arg.id({ required: true }), maxLifetimeDays: t.arg.int(), requireExpiry: t.arg.boolean({ required: true }) },
    resolve: (_root, args, ctx) => setKeyPolicy(ctx, args.organizationId, { maxLifetimeDays: args.maxLifetimeDays ?? null, requireExpiry: args.requireExpiry }),
  }),
}));
