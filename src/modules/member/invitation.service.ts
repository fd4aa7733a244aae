import { invitationMessage } from "./invitation-mail.js";
import { generateSecret, hashSecret, parseSecret } from "../../auth/secrets.js";
import { ref } from "../../authz/model.js";
import { ORG_ROLE_GRANTS, requireHeld, TEAM_ROLE_GRANTS } from "../../authz/no-escalation.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { OrgRole, TeamRole, Tx } from "../../db/database.js";
import { badInput, conflict, forbidden, notFound, unauthenticated } from "../../errors.js";
import { expectId } from "../../ids.js";
import { validEmail } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { issueApiKey } from "../api-key/api-key.service.js";
import { describeAudit } from "../audit/audit.js";
import { orgRole, userInOrg } from "../organization/organization.relationships.js";
import { addOrgMembership, lockOrgMemberships, organizationById, orgMembershipOf, orgRef } from "../organization/organization.service.js";
import { actAs, refuseGraceSecret } from "../../auth/caller.js";
import { capPersonalKeysOnJoining, defaultExpiry, policiesFor } from "../key-policy/key-policy.service.js";
import { defaultTeamOf, joinTeam, teamIdsInOrg, teamRef } from "../team/team.service.js";
import type { User } from "../user/user.repository.js";
import { findOrCreateUser, userByEmail, userById } from "../user/user.service.js";
import {
  findInvitation,
  findInvitationByTokenHash,
  insertInvitation,
  invitationStatus,
  markAccepted,
  markRevoked,
  revokeInvitationsSentBy,
  type Invitation,
} from "./invitation.repository.js";

export interface InviteInput {
  organizationId: string;
  email: string;
  role: OrgRole;
  teams?: { teamId: string; role: TeamRole }[] | null;
}

/**
 * Org ADMINs invite. The invitation grants its org role and team roles when accepted, so the
 * inviter must hold every permission of each (no escalation). With a mail transport the link
 * is emailed inside the transaction (a failed send leaves no invitation behind) and the token
 * is never returned; without one, the token is returned once for the inviter to deliver.
 */
export async function inviteMember(ctx: AppContext, input: InviteInput): Promise<{ invitation: Invitation; token: string | null }> {
  // An invitation token is a credential-to-be: a key's previous secret mints none.
  refuseGraceSecret(ctx);
  expectId(input.organizationId, "Organization");
  const email = validEmail(input.email);
  await ctx.authz.require(orgRef(input.organizationId), "manage_members");
  const teams = input.teams ?? null;
  const teamIds = (teams ?? []).map((t) => t.teamId);
  teamIds.forEach((id) => expectId(id, "Team"));
  if (new Set(teamIds).size !== teamIds.length) throw badInput("A team is listed twice");
  if ((await teamIdsInOrg(ctx.db, input.organizationId, teamIds)).length !== teamIds.length) {
    throw badInput("Every team must belong to the organization");
  }
  const grants = teams ?? [{ teamId: (await defaultTeamOf(ctx.db, input.organizationId)).id, role: "MEMBER" as const }];
  await Promise.all([
    requireHeld(ctx.authz, orgRef(input.organizationId), ORG_ROLE_GRANTS[input.role], `invite someone as ${input.role}`),
    ...grants.map((t) => requireHeld(ctx.authz, teamRef(t.teamId), TEAM_ROLE_GRANTS[t.role], `invite someone as ${t.role} of a team`)),
  ]);
  const existing = await userByEmail(ctx.db, email);
  if (existing && (await orgMembershipOf(ctx.db, input.organizationId, existing.id))) {
    throw conflict(`${email} is already a member of this organization`);
  }

  const { secret, hash } = generateSecret("ogi");
  const expiresAt = new Date(Date.now() + ctx.deps.config.invitations.lifetimeHours * 3600_000);
  const mailer = ctx.deps.mailer;
  const id = await writeTransaction(ctx, async (tx) => {
    const { id } = await insertInvitation(tx, {
      orgId: input.organizationId,
      email,
      role: input.role,
      teams,
      tokenHash: hash,
      expiresAt,
      invitedBy: ctx.principal!.id,
    });
    if (mailer) {
      const organization = (await organizationById(tx, input.organizationId))!;
      await mailer.send(invitationMessage({ to: email, organizationName: organization.name, token: secret, expiresAt }, ctx.deps.config.invitations.linkTemplate));
    }
    return { id };
  });
  return { invitation: (await findInvitation(ctx.db, id.id))!, token: mailer ? null : secret };
}

const invalidInvitation = () => badInput("This invitation is invalid, expired or already used");

/**
 * Redeems an invitation. Signed in: only as the invited email's user, who joins and gets a new
 * personal key of their own. Signed out: only for an email that has no account yet; the
 * account is created unverified (its first verified sign-in revokes the key returned here).
 * An existing account is never reached without signing in as it.
 */
export async function acceptInvitation(ctx: AppContext, token: string) {
  refuseGraceSecret(ctx);
  if (parseSecret(token) !== "ogi") throw invalidInvitation();
  const found = await findInvitationByTokenHash(ctx.db, hashSecret(token));
  if (!found || invitationStatus(found) !== "PENDING") throw invalidInvitation();
  const invitation = found;
  const caller = await invitedCaller(ctx, invitation);

  describeAudit(ctx, { orgId: invitation.org_id, diff: { invitation: invitation.id, role: invitation.role, teams: invitation.teams } });
  const asCalled = { principal: ctx.principal, authz: ctx.authz };
  const result = await writeTransaction(ctx, async (tx) => {
    // Serialized with removals and role changes: the inviter is still an ADMIN as we commit.
    await lockOrgMemberships(tx, invitation.org_id);
    if ((await orgMembershipOf(tx, invitation.org_id, invitation.invited_by))?.role !== "ADMIN") throw invalidInvitation();
    const user = caller ?? (await createInvitedUser(ctx, tx, invitation));
    if (ctx.audit) ctx.audit.targetId = user.id;
    // Single use: of two concurrent acceptances, one finds it accepted and rolls back.
    if (!(await markAccepted(tx, invitation.id, user.id))) throw invalidInvitation();
    if (await orgMembershipOf(tx, invitation.org_id, user.id)) throw conflict("You are already a member of this organization");
    await addOrgMembership(tx, invitation.org_id, user.id, invitation.role);
    await writeRelationships(tx, { orgId: invitation.org_id }, { add: [orgRole(invitation.org_id, user.id, invitation.role), userInOrg(user.id, invitation.org_id)] });

    const teams = invitation.teams ?? [{ teamId: (await defaultTeamOf(tx, invitation.org_id)).id, role: "MEMBER" as const }];
    // Teams deleted since the invitation was sent are skipped.
    const existingTeams = new Set(await teamIdsInOrg(tx, invitation.org_id, teams.map((t) => t.teamId)));
    for (const { teamId, role } of teams.filter((t) => existingTeams.has(t.teamId))) {
      await joinTeam(tx, { id: teamId, org_id: invitation.org_id }, ref("user", user.id), role);
    }
    // The user's personal keys act here from now on: those minted before (under laxer policies) are capped to this one's.
    const cappedKeys = await capPersonalKeysOnJoining(tx, invitation.org_id, user.id);
    if (ctx.audit && cappedKeys.length > 0) ctx.audit.diff = { ...(ctx.audit.diff as object), cappedKeys };
    // The key acts in every organization of the user, this one included: their strictest key policy gives its expiry.
    const expires_at = defaultExpiry(await policiesFor(tx, { userId: user.id }));
    const key = await issueApiKey(tx, { kind: "PERSONAL", name: "Created on joining", user_id: user.id, created_by: user.id, expires_at });
    return { user, ...key };
  }).catch((error: unknown) => {
    // Rolled back: the account was never created, so the failure is recorded as the caller's.
    Object.assign(ctx, asCalled);
    throw error;
  });
  const organization = await organizationById(ctx.db, invitation.org_id);
  return { user: result.user, organization: organization!, apiKey: result.apiKey, secret: result.secret };
}

/** The signed-in user the invitation is for, or undefined when signed out and the email has no account. */
async function invitedCaller(ctx: AppContext, invitation: Invitation): Promise<User | undefined> {
  if (!ctx.principal) {
    if (await userByEmail(ctx.db, invitation.email)) throw unauthenticated("Sign in as the invited account to accept this invitation");
    return undefined;
  }
  const user = ctx.principal.kind === "USER" ? await userById(ctx.db, ctx.principal.id) : undefined;
  // A managed account (SSO-provisioned) belongs to its organization only: its email is whatever
  // that organization's IdP said, so it never answers another organization's invitation.
  const foreignManaged = user?.managed_by_org_id != null && user.managed_by_org_id !== invitation.org_id;
  if (user?.email !== invitation.email || foreignManaged) throw forbidden("This invitation was sent to another email address");
  return user;
}

/** A signed-out acceptance creates the account, unverified, and the request acts as it from here on. */
async function createInvitedUser(ctx: AppContext, tx: Tx, invitation: Invitation): Promise<User> {
  const { user, created } = await findOrCreateUser(tx, invitation.email, { verified: false });
  // Someone signed up with this email meanwhile: the same rule as above applies.
  if (!created) throw unauthenticated("Sign in as the invited account to accept this invitation");
  actAs(ctx, { kind: "USER", id: user.id, via: { method: "invitation", invitationId: invitation.id } });
  return user;
}

/** The invitation, for those who manage its organization's members; NOT_FOUND for everyone else, whether or not it exists. */
export async function getInvitation(ctx: AppContext, id: string): Promise<Invitation> {
  expectId(id, "Invitation");
  const invitation = await findInvitation(ctx.db, id);
  if (!invitation || !(await ctx.authz.can(orgRef(invitation.org_id), "manage_members"))) throw notFound("invitation not found");
  return invitation;
}

/** Revokes, in the caller's transaction, every pending invitation the user sent (user.service: first verified sign-in). */
export { revokeInvitationsSentBy };

/** Org ADMINs revoke a pending invitation; revoking one already revoked changes nothing. */
export async function revokeInvitation(ctx: AppContext, id: string): Promise<Invitation> {
  const invitation = await getInvitation(ctx, id);
  if (invitation.status === "ACCEPTED") throw conflict("This invitation was already accepted: remove the member instead");
  describeAudit(ctx, { orgId: invitation.org_id, targetId: id, diff: { status: { before: invitationStatus(invitation), after: "REVOKED" } } });
  if (invitation.status === "PENDING") {
    await writeTransaction(ctx, async (tx) => {
      if (!(await markRevoked(tx, id, ctx.principal!.id))) throw conflict("This invitation was accepted meanwhile: remove the member instead");
    });
  }
  return (await findInvitation(ctx.db, id))!;
}
