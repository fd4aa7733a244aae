import { refuseGraceSecret } from "../../auth/caller.js";
import { ENVIRONMENT_GRANT, requireHeld, TEAM_ROLE_GRANTS } from "../../authz/no-escalation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { TeamRole } from "../../db/database.js";
import { badInput, conflict, forbidden, notFound } from "../../errors.js";
import { expectId } from "../../ids.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { environmentRef, getEnvironment } from "../environment/environment.service.js";
import { orgMembershipOf } from "../organization/organization.service.js";
import { resolveGrantee } from "../team/team-grantee.js";
import { getBrowsableTeam, teamById, teamRef, type Team } from "../team/team.service.js";
import { accessGranted, decisionGate } from "./access-request.relationships.js";
import { decideAccessRequest, findAccessRequest, insertAccessRequest, listAccessRequests, lockAccessRequest, pendingOfRequester } from "./access-request.repository.js";
import {
  DECIDE_WITHIN_MS,
  MAX_DURATION_MINUTES,
  MAX_JUSTIFICATION,
  MAX_PENDING_PER_REQUESTER,
  REQUESTS_LISTED,
  statusOf,
  type AccessRequest,
} from "./access-request.types.js";

/**
 * Just-in-time access (issue 16 §4): a user asks for a team role or an environment grant for
 * a while; someone who could grant it directly (the same gates and no-escalation checks as
 * addTeamMember / grantEnvironmentAccess) approves it — never the requester — and approval
 * writes the role or grant with SpiceDB's expiration, so it ends by itself.
 *
 * Only people request and decide: a team key or a service account acting on a person's access
 * is not what anyone expects of an approval, and a key cannot be held to account as its owner.
 */

export interface AccessRequestInput {
  scopeId: string;
  role?: TeamRole | null;
  durationMinutes: number;
  justification: string;
}

function boundedText(text: string, what: string): string {
  const trimmed = text.trim();
  if (!trimmed) throw badInput(`The ${what} must not be empty`);
  if (trimmed.length > MAX_JUSTIFICATION) throw badInput(`The ${what} is longer than ${MAX_JUSTIFICATION} characters`);
  return trimmed;
}

/** The caller, if a person (a user, or their personal key); FORBIDDEN otherwise. Asked after the scope's visibility. */
function personOf(ctx: AppContext, action: string): string {
  if (ctx.principal?.kind !== "USER") throw forbidden(`Only people ${action}: team keys and service accounts cannot`);
  return ctx.principal.id;
}

/** The team and, for a grant, the environment the request is about: NOT_FOUND unless the caller sees it (as for a random id). */
async function scopeOf(ctx: AppContext, scopeId: string): Promise<{ team: Team; environmentId: string | null }> {
  const type = expectId(scopeId, "Team", "Environment");
  if (type === "Team") return { team: await getBrowsableTeam(ctx, scopeId), environmentId: null };
  const environment = await getEnvironment(ctx, scopeId);
  return { team: (await teamById(ctx.db, environment.team_id))!, environmentId: environment.id };
}

export async function requestAccess(ctx: AppContext, input: AccessRequestInput): Promise<AccessRequest> {
  const isTeam = expectId(input.scopeId, "Team", "Environment") === "Team";
  if (isTeam && !input.role) throw badInput("Name the team role you ask for");
  if (!isTeam && input.role) throw badInput("On an environment, ask for a grant: omit the role");
  if (!Number.isInteger(input.durationMinutes) || input.durationMinutes < 1 || input.durationMinutes > MAX_DURATION_MINUTES) {
    throw badInput(`durationMinutes must be between 1 and ${MAX_DURATION_MINUTES} (one week)`);
  }
  const justification = boundedText(input.justification, "justification");
  const { team, environmentId } = await scopeOf(ctx, input.scopeId);
  const requesterId = personOf(ctx, "request access");
  // Seeing a team by a shared chain or a billing role is seeing it from its organization.
  if (!(await orgMembershipOf(ctx.db, team.org_id, requesterId))) throw notFound("not a member of the scope's organization");
  // After the scope's visibility: an invisible team answers as a random id, whatever the role.
  refuseGrantingRole(input.role ?? null);
  await refuseWhatIsHeld(ctx, team, environmentId, input.role ?? null);
  describeAudit(ctx, { orgId: team.org_id, teamId: team.id, targetId: input.scopeId, diff: { role: input.role ?? null, durationMinutes: input.durationMinutes } });
  return writeTransaction(
    ctx,
    async (tx) => {
      const now = new Date();
      if ((await pendingOfRequester(tx, requesterId, now)) >= MAX_PENDING_PER_REQUESTER) {
        throw badInput(`You have ${MAX_PENDING_PER_REQUESTER} pending access requests: wait until they are decided or lapse`);
      }
      return insertAccessRequest(tx, {
        org_id: team.org_id,
        team_id: team.id,
        environment_id: environmentId,
        role: isTeam ? input.role! : null,
        requester_id: requesterId,
        justification,
        duration_minutes: input.durationMinutes,
        decide_by: new Date(now.getTime() + DECIDE_WITHIN_MS),
      });
    },
    { onConflict: "You already have a pending request for this access" },
  );
}

/**
 * The team permissions that grant, mint or share lasting access (schema.zed: team#manage_members
 * also gates chain#share and role assignments, team#manage_keys team keys and service accounts,
 * team#manage_environments environment grants). A role carrying any of them is never granted for
 * a while: its holder could, within the window, write itself (or a second account, a key, a
 * service account, a share) the same powers for good — what addTeamMember and the rest write
 * has no expiry. Today that is ADMIN alone; the list is derived, so a role gaining one of these
 * is refused too. (A personal key acts as its user, so it loses the temporary powers with them.)
 */
const GRANTING_PERMISSIONS = ["manage_members", "manage_keys", "manage_environments"];

/** BAD_USER_INPUT for a role that grants or mints lasting access (asked for, or stored before this rule and approved). */
export function refuseGrantingRole(role: TeamRole | null): void {
  if (role && TEAM_ROLE_GRANTS[role].some((p) => GRANTING_PERMISSIONS.includes(p))) {
    throw badInput(`${role} cannot be requested just in time: it grants and mints lasting access`);
  }
}

/** Asking for what one already holds (or for a grant that would give nothing) is BAD_USER_INPUT. */
async function refuseWhatIsHeld(ctx: AppContext, team: Team, environmentId: string | null, role: TeamRole | null): Promise<void> {
  if (role) {
    const held = await Promise.all(TEAM_ROLE_GRANTS[role].map((p) => ctx.authz.can(teamRef(team.id), p)));
    if (held.every(Boolean)) throw badInput(`You already hold everything the ${role} role grants on this team`);
    return;
  }
  const environment = environmentRef(environmentId!);
  const [manages, writes] = await Promise.all([ctx.authz.can(environment, "manage"), ctx.authz.can(environment, "team_writer_in_scope")]);
  if (manages) throw badInput("You can already manage deployments in this environment");
  // A grant only unlocks a restricted environment for the team's writers (schema.zed environment#manage).
  if (!writes) throw badInput("A grant here would give you nothing: only the team's writers deploy; ask for a team role instead");
}

/** Whoever may see the request: its requester, and whoever holds the decision's gate on its scope. */
export async function maySee(ctx: AppContext, request: AccessRequest): Promise<boolean> {
  if (ctx.principal?.kind === "USER" && ctx.principal.id === request.requester_id) return true;
  const gate = decisionGate(request);
  return ctx.authz.can(gate.scope, gate.permission);
}

export async function getAccessRequest(ctx: AppContext, id: string): Promise<AccessRequest> {
  expectId(id, "AccessRequest");
  const request = await findAccessRequest(ctx.db, id);
  if (!request || !(await maySee(ctx, request))) throw notFound();
  return request;
}

/**
 * The checks of the direct grant (addTeamMember, grantEnvironmentAccess): the gate, the
 * requester still a member of the organization, and no escalation. Never the requester.
 */
async function requireDecider(ctx: AppContext, request: AccessRequest, action: string): Promise<string> {
  const deciderId = personOf(ctx, "decide access requests");
  if (deciderId === request.requester_id) throw forbidden("You cannot decide your own access request");
  // Whoever sees a request they did not make holds its gate (maySee); FORBIDDEN tells them nothing new.
  const { scope, permission } = decisionGate(request);
  if (!(await ctx.authz.can(scope, permission))) throw forbidden(`You are not allowed to ${permission.replace(/_/g, " ")} on this ${scope.type}`);
  if (request.environment_id) await requireHeld(ctx.authz, scope, ENVIRONMENT_GRANT, `${action} access to this environment`);
  else await requireHeld(ctx.authz, scope, TEAM_ROLE_GRANTS[request.role!], `${action} the ${request.role} role`);
  // The requester may have left the organization since: nothing is granted to a stranger.
  await resolveGrantee(ctx, (await teamById(ctx.db, request.team_id))!, request.requester_id);
  return deciderId;
}

/** CONFLICT unless the request is still PENDING (decided twice, or lapsed undecided). */
function requirePending(request: AccessRequest, now: Date): void {
  const status = statusOf(request, now);
  if (status !== "PENDING") throw conflict(`This access request is ${status.toLowerCase()}: only a pending request can be decided`);
}

/**
 * Approves; the access ends `durationMinutes` after now. `options.expiresAt` (internal, for
 * tests only: the GraphQL mutation never passes it) ends it at that instant instead.
 */
export async function approveAccessRequest(ctx: AppContext, id: string, options: { expiresAt?: Date } = {}): Promise<AccessRequest> {
  // An approval grants access: not for a secret on its way out.
  refuseGraceSecret(ctx);
  const request = await getAccessRequest(ctx, id);
  refuseGrantingRole(request.role);
  const deciderId = await requireDecider(ctx, request, "grant");
  describeAudit(ctx, { orgId: request.org_id, teamId: request.team_id, targetId: id, diff: { status: { before: "PENDING", after: "APPROVED" } } });
  return writeTransaction(ctx, async (tx) => {
    const now = new Date();
    const locked = (await lockAccessRequest(tx, id))!;
    requirePending(locked, now);
    const expiresAt = options.expiresAt ?? new Date(now.getTime() + locked.duration_minutes * 60_000);
    const grant = accessGranted(locked, expiresAt);
    // Never shorten what the requester holds: a standing role or grant, or a later expiry.
    const [held] = await findRelationships(tx, { resource: grant.resource, relations: [grant.relation], subject: grant.subject });
    if (held && (!held.expiresAt || held.expiresAt >= expiresAt)) throw badInput("The requester already holds this access for at least as long");
    await writeRelationships(tx, { orgId: locked.org_id, teamId: locked.team_id }, { add: [grant] });
    return decideAccessRequest(tx, id, { status: "APPROVED", decidedBy: deciderId, expiresAt });
  });
}

export async function denyAccessRequest(ctx: AppContext, id: string, reason: string | null | undefined): Promise<AccessRequest> {
  const why = reason == null ? null : boundedText(reason, "reason");
  const request = await getAccessRequest(ctx, id);
  const deciderId = await requireDecider(ctx, request, "deny");
  describeAudit(ctx, { orgId: request.org_id, teamId: request.team_id, targetId: id, diff: { status: { before: "PENDING", after: "DENIED" } } });
  return writeTransaction(ctx, async (tx) => {
    requirePending((await lockAccessRequest(tx, id))!, new Date());
    return decideAccessRequest(tx, id, { status: "DENIED", decidedBy: deciderId, reason: why });
  });
}

/** The newest requests of a team (its roles and its environments' grants), an environment, or the caller; each one the caller may see. */
export async function visibleAccessRequests(ctx: AppContext, filter: { teamId?: string; environmentId?: string; requesterId?: string }): Promise<AccessRequest[]> {
  const requests = await listAccessRequests(ctx.db, filter, REQUESTS_LISTED);
  const seen = await Promise.all(requests.map((r) => maySee(ctx, r)));
  return requests.filter((_, i) => seen[i]);
}
