import { builder } from "../../graphql/builder.js";
import { TeamRoleInput } from "../member/member.graphql.js";
import { OrganizationRef, OrgRoleEnum } from "../organization/organization.graphql.js";
import { TeamMembershipRef } from "../team/team.graphql.js";
import { teamRef, type TeamMembership } from "../team/team.service.js";
import type { SsoGroupMapping } from "./sso.repository.js";
import { deleteSsoGroupMapping, liveTeamsOf, setSsoConnection, setSsoGroupMapping, visibleMappings } from "./sso.service.js";

export const SsoGroupMappingRef = builder.objectRef<SsoGroupMapping>("SsoGroupMapping");

builder.objectType(SsoGroupMappingRef, {
  description: "An identity-provider group of the organization's SSO connection, and the roles a sign-in with it implies.",
  fields: (t) => ({
    group: t.exposeString("group_name"),
    orgRole: t.field({
      type: OrgRoleEnum,
      nullable: true,
      description: "The org role it implies; null: MEMBER (a mapped group always implies membership).",
      resolve: (m) => m.org_role,
    }),
    teams: t.field({
      type: [TeamMembershipRef],
      description:
        "The team roles it implies, among the teams the caller can view (teams deleted since are left out). Each entry's `principal` is the person who last set the mapping.",
      resolve: async (m, _args, ctx) => {
        const rows: TeamMembership[] = (await liveTeamsOf(ctx, m)).map((t) => ({
          team_id: t.teamId,
          principal_id: m.set_by,
          principal_type: "user",
          role: t.role,
          sso_managed: true,
          created_at: m.updated_at,
        }));
        return ctx.authz.filter(rows, (row) => teamRef(row.team_id), "view");
      },
    }),
  }),
});

builder.objectFields(OrganizationRef, (t) => ({
  ssoGroupMappings: t.field({
    type: [SsoGroupMappingRef],
    description: "The SSO connection's group mappings, for those who may manage the organization (org:manage); an empty list for everyone else.",
    resolve: (org, _args, ctx) => visibleMappings(ctx, org.id),
  }),
}));

builder.mutationFields((t) => ({
  setSsoConnection: t.field({
    audit: "sso.set_connection",
    type: OrganizationRef,
    description:
      "Connects the organization's own identity provider (org:manage, a person, holding everything the mappings grant). Exactly one of jwksUrl (https) and publicKeyPem; groupsClaim defaults to `groups`. Its tokens sign in accounts the organization manages.",
    args: {
      organizationId: t.arg.id({ required: true }),
      issuer: t.arg.string({ required: true }),
      audience: t.arg.string({ required: true }),
      jwksUrl: t.arg.string({ required: false }),
      publicKeyPem: t.arg.string({ required: false }),
      groupsClaim: t.arg.string({ required: false }),
    },
    resolve: (_root, args, ctx) => setSsoConnection(ctx, args),
  }),
  setSsoGroupMapping: t.field({
    audit: "sso.set_group_mapping",
    type: SsoGroupMappingRef,
    description: "Maps an IdP group to an org role and team roles (org:manage; no granting what you do not hold). Applied at each member's next sign-in.",
    args: {
      organizationId: t.arg.id({ required: true }),
      group: t.arg.string({ required: true }),
      orgRole: t.arg({ type: OrgRoleEnum, required: false }),
      teams: t.arg({ type: [TeamRoleInput], required: false }),
    },
    resolve: (_root, args, ctx) =>
      setSsoGroupMapping(ctx, { organizationId: args.organizationId, group: args.group, orgRole: args.orgRole ?? null, teams: args.teams?.map((x) => ({ teamId: String(x.teamId), role: x.role })) ?? null }),
  }),
  deleteSsoGroupMapping: t.field({
    audit: "sso.delete_group_mapping",
    type: "Boolean",
    description: "Deletes a group mapping (org:manage, holding what it granted); false when there was none.",
    args: { organizationId: t.arg.id({ required: true }), group: t.arg.string({ required: true }) },
    resolve: (_root, { organizationId, group }, ctx) => deleteSsoGroupMapping(ctx, String(organizationId), group),
  }),
}));
