import { builder } from "../../graphql/builder.js";
import { keysetConnection } from "../../graphql/pagination.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { OrganizationRef } from "../organization/organization.graphql.js";
import { orgMembershipOf } from "../organization/organization.service.js";
import { PrincipalRef, loadPrincipal } from "../user/user.graphql.js";
import {
  findDefaultTeam,
  findTeamMembership,
  listTeamMembershipsPage,
  listTeamsPage,
  type Team,
  type TeamMembership,
} from "./team.repository.js";
import { addTeamMember, removeTeamMember, setTeamRole } from "./team-membership.service.js";
import { createTeam, deleteTeam, getBrowsableTeam, listableTeams, renameTeam, teamRef } from "./team.service.js";

export const TeamRoleEnum = builder.enumType("TeamRole", { values: ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const });

export const TeamRef = builder.objectRef<Team>("Team");
export const TeamMembershipRef = builder.objectRef<TeamMembership>("TeamMembership");

builder.node(TeamRef, {
  id: { resolve: (team) => team.id },
  // Every Team object, however it is reached, is checked once: invisible teams are NOT_FOUND.
  // `browse` also admits users a chain of the team is shared with: they reach the team and
  // that chain, and every other field asks for team:view.
  authScopes: (team) => ({ visible: scopeKey(teamRef(team.id), "browse") }),
  loadOne: (id, ctx) => getBrowsableTeam(ctx, id),
  fields: (t) => ({
    name: t.exposeString("name"),
    isDefault: t.exposeBoolean("is_default"),
    organization: t.field({
      type: OrganizationRef,
      resolve: async (team, _args, ctx) => (await ctx.loaders.organization.load(team.org_id))!,
    }),
    viewerRole: t.field({
      type: TeamRoleEnum,
      nullable: true,
      description: "The caller's effective built-in role here (ADMIN for org admins); null if none.",
      resolve: async (team, _args, ctx) => {
        const principal = ctx.principal;
        if (!principal || principal.kind === "API_KEY") return null;
        if (principal.kind === "USER" && (await orgMembershipOf(ctx.db, team.org_id, principal.id))?.role === "ADMIN") {
          return "ADMIN";
        }
        return (await findTeamMembership(ctx.db, team.id, principal.id))?.role ?? null;
      },
    }),
    members: t.connection({
      type: TeamMembershipRef,
      authScopes: (team) => ({ can: scopeKey(teamRef(team.id), "view") }),
      resolve: (team, args, ctx) =>
        keysetConnection(args, (after, limit) => listTeamMembershipsPage(ctx.db, team.id, { after, limit }), (m) => m.principal_id),
    }, { name: "TeamMembershipConnection" }, { name: "TeamMembershipEdge" }),
  }),
});

builder.objectType(TeamMembershipRef, {
  fields: (t) => ({
    team: t.field({ type: TeamRef, resolve: async (m, _args, ctx) => (await ctx.loaders.team.load(m.team_id))! }),
    principal: t.field({
      type: PrincipalRef,
      resolve: async (m, _args, ctx) => (await loadPrincipal(ctx.loaders, m.principal_id))!,
    }),
    role: t.field({ type: TeamRoleEnum, resolve: (m) => m.role }),
  }),
});

builder.objectFields(OrganizationRef, (t) => ({
  defaultTeam: t.field({ type: TeamRef, resolve: (org, _args, ctx) => findDefaultTeam(ctx.db, org.id) }),
  teams: t.connection({
    type: TeamRef,
    description: "Teams the caller can view (every team, for holders of org:view_all_teams).",
    resolve: async (org, args, ctx) => {
      const visible = await listableTeams(ctx, org.id);
      return keysetConnection(args, (after, limit) => listTeamsPage(ctx.db, org.id, visible, { after, limit }), (team) => team.id);
    },
  }, { name: "TeamConnection" }, { name: "TeamEdge" }),
}));

builder.queryFields((t) => ({
  team: t.field({
    type: TeamRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => getBrowsableTeam(ctx, id),
  }),
}));

builder.mutationFields((t) => ({
  createTeam: t.field({
    audit: "team.create",
    type: TeamRef,
    args: { organizationId: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => createTeam(ctx, args.organizationId, args.name),
  }),
  renameTeam: t.field({
    audit: "team.rename",
    type: TeamRef,
    args: { id: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => renameTeam(ctx, args.id, args.name),
  }),
  deleteTeam: t.boolean({
    audit: "team.delete",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deleteTeam(ctx, args.id),
  }),
  addTeamMember: t.field({
    audit: "team.member.add",
    type: TeamMembershipRef,
    args: { teamId: t.arg.id({ required: true }), principalId: t.arg.id({ required: true }), role: t.arg({ type: TeamRoleEnum, required: true }) },
    resolve: (_root, args, ctx) => addTeamMember(ctx, args.teamId, args.principalId, args.role),
  }),
  setTeamRole: t.field({
    audit: "team.member.set_role",
    type: TeamMembershipRef,
    args: { teamId: t.arg.id({ required: true }), principalId: t.arg.id({ required: true }), role: t.arg({ type: TeamRoleEnum, required: true }) },
    resolve: (_root, args, ctx) => setTeamRole(ctx, args.teamId, args.principalId, args.role),
  }),
  removeTeamMember: t.boolean({
    audit: "team.member.remove",
    args: { teamId: t.arg.id({ required: true }), principalId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => removeTeamMember(ctx, args.teamId, args.principalId),
  }),
}));

