import { builder } from "../../graphql/builder.js";
import { keysetConnection } from "../../graphql/pagination.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { ApiKeyRef } from "../api-key/api-key.graphql.js";
import { OrganizationRef, OrgRoleEnum } from "../organization/organization.graphql.js";
import type { OrgMembership } from "../organization/organization.repository.js";
import { orgMembershipsPage, orgRef } from "../organization/organization.service.js";
import { TeamMembershipRef, TeamRoleEnum } from "../team/team.graphql.js";
import { membershipsInOrg, teamRef } from "../team/team.service.js";
import { UserRef } from "../user/user.graphql.js";
import { invitationStatus, listInvitations, type Invitation } from "./invitation.repository.js";
import { acceptInvitation, getInvitation, inviteMember, revokeInvitation } from "./invitation.service.js";
import { removeMember, setOrgRole } from "./member.service.js";

/** Organization.invitations lists this many, newest first. */
const INVITATIONS_LISTED = 200;

export const OrgMembershipRef = builder.objectRef<OrgMembership>("OrgMembership");
export const InvitationRef = builder.objectRef<Invitation>("Invitation");

builder.objectType(OrgMembershipRef, {
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: async (m, _args, ctx) => (await ctx.loaders.user.load(m.user_id))! }),
    role: t.field({ type: OrgRoleEnum, resolve: (m) => m.role }),
    teams: t.field({
      type: [TeamMembershipRef],
      description: "The member's teams, among those the caller can view.",
      resolve: async (m, _args, ctx) =>
        ctx.authz.filter(await membershipsInOrg(ctx.db, m.org_id, m.user_id), (tm) => teamRef(tm.team_id), "view"),
    }),
  }),
});

builder.node(InvitationRef, {
  id: { resolve: (invitation) => invitation.id },
  // Only those who manage the organization's members see its invitations.
  authScopes: (invitation) => ({ visible: scopeKey(orgRef(invitation.org_id), "manage_members") }),
  loadOne: (id, ctx) => getInvitation(ctx, id),
  fields: (t) => ({
    email: t.exposeString("email"),
    role: t.field({ type: OrgRoleEnum, resolve: (i) => i.role }),
    status: t.field({
      type: "String",
      description: "PENDING, ACCEPTED, REVOKED, EXPIRED, or VOID (its inviter is no longer an org ADMIN).",
      resolve: (i) => invitationStatus(i),
    }),
    expiresAt: t.field({ type: "DateTime", resolve: (i) => i.expires_at }),
  }),
});

builder.objectFields(OrganizationRef, (t) => ({
  members: t.connection({
    type: OrgMembershipRef,
    description: "Every member for those who manage members; otherwise only the caller's own membership.",
    resolve: async (org, args, ctx) => {
      const seesAll = await ctx.authz.can(orgRef(org.id), "manage_members");
      const onlyUserId = seesAll ? undefined : (ctx.principal?.id ?? "");
      return keysetConnection(args, (after, limit) => orgMembershipsPage(ctx.db, org.id, { after, limit, onlyUserId }), (m) => m.user_id);
    },
  }, { name: "OrgMembershipConnection" }, { name: "OrgMembershipEdge" }),
  invitations: t.field({
    type: [InvitationRef],
    description: `The newest ${INVITATIONS_LISTED} invitations, whatever their status.`,
    authScopes: (org) => ({ can: scopeKey(orgRef(org.id), "manage_members") }),
    resolve: (org, _args, ctx) => listInvitations(ctx.db, org.id, INVITATIONS_LISTED),
  }),
}));

export const TeamRoleInput = builder.inputType("TeamRoleInput", {
  fields: (t) => ({
    teamId: t.id({ required: true }),
    role: t.field({ type: TeamRoleEnum, required: true }),
  }),
});

const InviteMemberInput = builder.inputType("InviteMemberInput", {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    email: t.string({ required: true }),
    role: t.field({ type: OrgRoleEnum, required: true }),
    teams: t.field({ type: [TeamRoleInput], required: false }),
  }),
});

const InvitePayload = builder.objectRef<Awaited<ReturnType<typeof inviteMember>>>("InvitePayload").implement({
  fields: (t) => ({
    invitation: t.expose("invitation", { type: InvitationRef }),
    token: t.exposeString("token", {
      nullable: true,
      description: "The secret of the invitation link, shown once, for the inviter to deliver — only when no mail transport is configured (SMTP_URL unset); null when the invitation was emailed.",
    }),
  }),
});

const AcceptInvitationPayload = builder.objectRef<Awaited<ReturnType<typeof acceptInvitation>>>("AcceptInvitationPayload").implement({
  fields: (t) => ({
    user: t.expose("user", { type: UserRef }),
    organization: t.expose("organization", { type: OrganizationRef }),
    apiKey: t.expose("apiKey", { type: ApiKeyRef, description: "A personal API key for the new member, shown once." }),
    secret: t.exposeString("secret"),
  }),
});

builder.mutationFields((t) => ({
  inviteMember: t.field({
    audit: "member.invite",
    type: InvitePayload,
    args: { input: t.arg({ type: InviteMemberInput, required: true }) },
    resolve: (_root, { input }, ctx) => inviteMember(ctx, input),
  }),
  acceptInvitation: t.field({
    audit: "member.accept_invitation",
    type: AcceptInvitationPayload,
    // The invitation token is the credential: the invitee has no account yet.
    skipTypeScopes: true,
    args: { token: t.arg.string({ required: true }) },
    resolve: (_root, { token }, ctx) => acceptInvitation(ctx, token),
  }),
  revokeInvitation: t.field({
    audit: "member.revoke_invitation",
    type: InvitationRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => revokeInvitation(ctx, id),
  }),
  removeMember: t.boolean({
    audit: "member.remove",
    args: { organizationId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => removeMember(ctx, args.organizationId, args.userId),
  }),
  setOrgRole: t.field({
    audit: "member.set_role",
    type: OrgMembershipRef,
    args: { organizationId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }), role: t.arg({ type: OrgRoleEnum, required: true }) },
    resolve: (_root, args, ctx) => setOrgRole(ctx, args.organizationId, args.userId, args.role),
  }),
}));
