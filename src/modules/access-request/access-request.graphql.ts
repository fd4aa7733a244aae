import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { EnvironmentRef } from "../environment/environment.graphql.js";
import { TeamRef, TeamRoleEnum } from "../team/team.graphql.js";
import { loadPrincipal, PrincipalRef } from "../user/user.graphql.js";
import { ViewerRef } from "../viewer/viewer.graphql.js";
import { decisionGate } from "./access-request.relationships.js";
import { approveAccessRequest, denyAccessRequest, getAccessRequest, requestAccess, visibleAccessRequests } from "./access-request.service.js";
import { expiresAtOf, MAX_DURATION_MINUTES, REQUESTS_LISTED, statusOf, type AccessRequest } from "./access-request.types.js";

export const AccessRequestStatusEnum = builder.enumType("AccessRequestStatus", { values: ["PENDING", "APPROVED", "DENIED", "EXPIRED"] as const });
export const AccessRequestRef = builder.objectRef<AccessRequest>("AccessRequest");

builder.node(AccessRequestRef, {
  id: { resolve: (request) => request.id },
  // Its requester, and whoever may decide it (team:manage_members for a role, environment:manage_access for a grant).
  authScopes: (request, ctx) =>
    ctx.principal?.kind === "USER" && ctx.principal.id === request.requester_id
      ? { authenticated: true }
      : { visible: scopeKey(decisionGate(request).scope, decisionGate(request).permission) },
  loadOne: (id, ctx) => getAccessRequest(ctx, id),
  fields: (t) => ({
    requester: t.field({ type: PrincipalRef, resolve: async (r, _args, ctx) => (await loadPrincipal(ctx.loaders, r.requester_id))! }),
    status: t.field({ type: AccessRequestStatusEnum, description: "EXPIRED: approved and its access has ended, or pending and undecided within 24 hours.", resolve: (r) => statusOf(r) }),
    justification: t.exposeString("justification"),
    expiresAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the approved access ends (or ended); for a pending request, when it lapses undecided; null once denied.",
      resolve: (r) => expiresAtOf(r),
    }),
    decidedBy: t.field({ type: PrincipalRef, nullable: true, resolve: (r, _args, ctx) => loadPrincipal(ctx.loaders, r.decided_by) }),
    scopeId: t.id({ description: "The team or the environment the request is about.", resolve: (r) => r.environment_id ?? r.team_id }),
    role: t.field({ type: TeamRoleEnum, nullable: true, description: "The team role asked for; null for an environment grant.", resolve: (r) => r.role }),
    durationMinutes: t.exposeInt("duration_minutes"),
    createdAt: t.field({ type: "DateTime", resolve: (r) => r.created_at }),
    decidedAt: t.field({ type: "DateTime", nullable: true, resolve: (r) => r.decided_at }),
    denyReason: t.exposeString("deny_reason", { nullable: true }),
  }),
});

const listed = `The newest ${REQUESTS_LISTED}, of every status; each one the caller may see (its requester, or whoever may decide it).`;

builder.objectField(TeamRef, "accessRequests", (t) =>
  t.field({
    type: [AccessRequestRef],
    description: `Access requests for a role on this team or a grant on one of its environments. ${listed}`,
    resolve: (team, _args, ctx) => visibleAccessRequests(ctx, { teamId: team.id }),
  }),
);

builder.objectField(EnvironmentRef, "accessRequests", (t) =>
  t.field({
    type: [AccessRequestRef],
    description: `Access requests for a grant on this environment. ${listed}`,
    resolve: (environment, _args, ctx) => visibleAccessRequests(ctx, { environmentId: environment.id }),
  }),
);

builder.objectField(ViewerRef, "accessRequests", (t) =>
  t.field({
    type: [AccessRequestRef],
    description: `The caller's own access requests, newest first (at most ${REQUESTS_LISTED}); empty for keys and service accounts.`,
    resolve: (principal, _args, ctx) => (principal.kind === "USER" ? visibleAccessRequests(ctx, { requesterId: principal.id }) : []),
  }),
);

const AccessRequestInputRef = builder.inputType("AccessRequestInput", {
  fields: (t) => ({
    scopeId: t.id({ required: true, description: "A team or an environment." }),
    role: t.field({ type: TeamRoleEnum, required: false, description: "On a team: the role asked for. On an environment: omit (a grant is asked for)." }),
    durationMinutes: t.int({ required: true, description: `How long the access lasts once approved: 1 to ${MAX_DURATION_MINUTES} minutes.` }),
    justification: t.string({ required: true, description: "Why (1 to 1000 characters)." }),
  }),
});

builder.mutationFields((t) => ({
  requestAccess: t.field({
    audit: "access_request.request",
    type: AccessRequestRef,
    description:
      "Asks for a team role or an environment grant for a while (people only). The scope must be one the caller sees in an organization it belongs to; " +
      "at most 10 pending requests per requester, one per scope and role (CONFLICT); asking for what one holds is BAD_USER_INPUT.",
    args: { input: t.arg({ type: AccessRequestInputRef, required: true }) },
    resolve: (_root, { input }, ctx) => requestAccess(ctx, input),
  }),
  approveAccessRequest: t.field({
    audit: "access_request.approve",
    type: AccessRequestRef,
    description:
      "Approves a pending request: whoever could grant it directly (addTeamMember / grantEnvironmentAccess, with their no-escalation checks), never its requester (FORBIDDEN). " +
      "The access ends by itself durationMinutes from now. A request no longer pending is CONFLICT.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => approveAccessRequest(ctx, id),
  }),
  denyAccessRequest: t.field({
    audit: "access_request.deny",
    type: AccessRequestRef,
    description: "Denies a pending request, with an optional reason the requester reads: the same deciders as approveAccessRequest. A request no longer pending is CONFLICT.",
    args: { id: t.arg.id({ required: true }), reason: t.arg.string() },
    resolve: (_root, { id, reason }, ctx) => denyAccessRequest(ctx, id, reason),
  }),
}));
