import { builder } from "../../graphql/builder.js";
import { keysetConnection } from "../../graphql/pagination.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { notFound } from "../../errors.js";
import { OrganizationRef } from "../organization/organization.graphql.js";
import { orgRef } from "../organization/organization.service.js";
import { TeamRef } from "../team/team.graphql.js";
import { teamRef } from "../team/team.service.js";
import { PrincipalRef, loadPrincipal } from "../user/user.graphql.js";
import { withoutSecretNames } from "../secret/secret-names.js";
import { findAuditEvent, listAuditEvents, verifyChain, type AuditEvent, type AuditFilter } from "./audit.repository.js";

const AuditResultEnum = builder.enumType("AuditResult", { values: ["SUCCESS", "DENIED", "ERROR"] as const });

/** Team events are visible to the team's audit readers (org ADMINs included); others to org ADMINs. */
const eventGate = (event: AuditEvent) =>
  event.team_id ? scopeKey(teamRef(event.team_id), "audit_read") : scopeKey(orgRef(event.org_id ?? "none"), "audit_read_all");

export const AuditEventRef = builder.objectRef<AuditEvent>("AuditEvent");

builder.node(AuditEventRef, {
  id: { resolve: (event) => event.id },
  authScopes: (event) => ({ visible: eventGate(event) }),
  loadOne: async (id, ctx) => {
    const event = await findAuditEvent(ctx.db, id);
    if (!event) throw notFound("audit event not found");
    return event;
  },
  fields: (t) => ({
    at: t.field({ type: "DateTime", resolve: (event) => event.at }),
    actor: t.field({ type: PrincipalRef, nullable: true, resolve: (event, _args, ctx) => loadPrincipal(ctx.loaders, event.actor_id) }),
    authMethod: t.exposeString("auth_method", { nullable: true, description: "How the actor authenticated: api_key or jwt." }),
    authRef: t.exposeString("auth_ref", { nullable: true, description: "The API key id or the JWT subject." }),
    action: t.exposeString("action"),
    targetId: t.exposeID("target_id", { nullable: true }),
    result: t.field({ type: AuditResultEnum, resolve: (event) => event.result }),
    error: t.exposeString("error", { nullable: true }),
    diff: t.field({
      type: "JSON",
      nullable: true,
      description: "Before/after. Secret names (a chain definition's, a secret event's) read as null unless the reader holds secrets:read_names on the event's team.",
      resolve: async (event, _args, ctx) => {
        if (event.diff === null || event.diff === undefined) return null;
        // Every team role reads the team's audit events; only some may read secret names.
        if (!event.team_id || (await ctx.authz.can(teamRef(event.team_id), "secrets_read_names"))) return event.diff;
        return withoutSecretNames(event.diff, { nameKeys: event.action.startsWith("secret.") });
      },
    }),
    requestId: t.exposeString("request_id", { nullable: true }),
  }),
});

const AuditVerificationRef = builder
  .objectRef<{ ok: boolean; checked: number; firstBrokenId: string | null }>("AuditVerification")
  .implement({
    fields: (t) => ({
      ok: t.exposeBoolean("ok"),
      checked: t.exposeInt("checked"),
      firstBrokenId: t.exposeID("firstBrokenId", { nullable: true }),
    }),
  });

const AuditEventConnection = builder.connectionObject({ type: AuditEventRef, name: "AuditEventConnection" }, { name: "AuditEventEdge" });

const auditFilterArgs = builder.args((t) => ({
  action: t.string({ description: "Only this action, e.g. team.member.add" }),
  actorId: t.id(),
  result: t.field({ type: AuditResultEnum }),
  from: t.field({ type: "DateTime" }),
  to: t.field({ type: "DateTime" }),
}));

const toFilter = (args: { action?: string | null; actorId?: string | null; result?: AuditFilter["result"]; from?: Date | null; to?: Date | null }) => ({
  action: args.action,
  actorId: args.actorId,
  result: args.result,
  from: args.from,
  to: args.to,
});

builder.objectFields(OrganizationRef, (t) => ({
  auditLog: t.connection(
    {
      type: AuditEventRef,
      description: "Every event of the organization, newest first (org ADMINs).",
      args: auditFilterArgs,
      authScopes: (org) => ({ can: scopeKey(orgRef(org.id), "audit_read_all") }),
      resolve: (org, args, ctx) =>
        keysetConnection(args, (after, limit) => listAuditEvents(ctx.db, { orgId: org.id, ...toFilter(args) }, { after, limit }), (e) => e.id),
    },
    AuditEventConnection,
  ),
  verifyAuditLog: t.field({
    type: AuditVerificationRef,
    description: "Recomputes the organization's hash chain: ok, or the first event that does not verify.",
    authScopes: (org) => ({ can: scopeKey(orgRef(org.id), "audit_read_all") }),
    resolve: (org, _args, ctx) => verifyChain(ctx.db, org.id),
  }),
}));

builder.objectFields(TeamRef, (t) => ({
  auditLog: t.connection(
    {
      type: AuditEventRef,
      description: "The team's events, newest first (any team role).",
      args: auditFilterArgs,
      authScopes: (team) => ({ can: scopeKey(teamRef(team.id), "audit_read") }),
      resolve: (team, args, ctx) =>
        keysetConnection(args, (after, limit) => listAuditEvents(ctx.db, { teamId: team.id, ...toFilter(args) }, { after, limit }), (e) => e.id),
    },
    AuditEventConnection,
  ),
}));
