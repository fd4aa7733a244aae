import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { expectId } from "../../ids.js";
import { findOrgMembership, type Organization } from "./organization.repository.js";
import { createOrganization, getOrganization, orgRef, renameOrganization, setBillingEmail } from "./organization.service.js";

export const OrgRoleEnum = builder.enumType("OrgRole", { values: ["ADMIN", "BILLING_ADMIN", "MEMBER"] as const });

export const OrganizationRef = builder.objectRef<Organization>("Organization");

builder.node(OrganizationRef, {
  id: { resolve: (org) => org.id },
  // Every Organization object, however it is reached, is checked once: `browse` admits whoever
  // views one of its teams (Team.organization for a team key); organization(id), node(id) and
  // every field beyond id and name still ask for view or narrower.
  authScopes: (org) => ({ visible: scopeKey(orgRef(org.id), "browse") }),
  loadOne: (id, ctx) => getOrganization(ctx, id),
  fields: (t) => ({
    name: t.exposeString("name"),
    billingEmail: t.string({
      nullable: true,
      description: "Where invoices and spend alerts go (billing:view: ADMIN and BILLING_ADMIN).",
      authScopes: (org) => ({ can: scopeKey(orgRef(org.id), "billing_view") }),
      resolve: (org) => org.billing_email,
    }),
    viewerRole: t.field({
      type: OrgRoleEnum,
      nullable: true,
      resolve: async (org, _args, ctx) =>
        ctx.principal?.kind === "USER" ? ((await findOrgMembership(ctx.db, org.id, ctx.principal.id))?.role ?? null) : null,
    }),
  }),
});

builder.queryFields((t) => ({
  organization: t.field({
    type: OrganizationRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => {
      expectId(id, "Organization");
      return getOrganization(ctx, id);
    },
  }),
}));

builder.mutationFields((t) => ({
  createOrganization: t.field({
    audit: "organization.create",
    type: OrganizationRef,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => createOrganization(ctx, name),
  }),
  setBillingEmail: t.field({
    audit: "organization.set_billing_email",
    type: OrganizationRef,
    description: "Sets (or, with null, clears) the organization's billing contact: billing:manage (ADMIN, BILLING_ADMIN).",
    args: { organizationId: t.arg.id({ required: true }), email: t.arg.string({ required: false }) },
    resolve: (_root, { organizationId, email }, ctx) => setBillingEmail(ctx, organizationId, email ?? null),
  }),
  renameOrganization: t.field({
    audit: "organization.rename",
    type: OrganizationRef,
    args: { id: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, { id, name }, ctx) => {
      expectId(id, "Organization");
      return renameOrganization(ctx, id, name);
    },
  }),
}));
