import { generateSecret, hashSecret, parseSecret } from "../../auth/secrets.js";
import { describeAudit } from "../audit/audit.js";
import { ref } from "../../authz/model.js";
import { findRelationships, writeRelationships } from "../../authz/relationships.js";
import type { AppContext } from "../../context.js";
import type { OrgRole, TeamRole } from "../../db/database.js";
import { badInput, conflict, forbidden, notFound } from "../../errors.js";
import { expectId, newId } from "../../ids.js";
import { validEmail } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { issueApiKey } from "../api-key/api-key.service.js";
import { actAs } from "../principal.js";
import { orgRole, userInOrg } from "../organization/organization.relationships.js";
import {
  countAdmins,
  findOrgMembership,
  findOrganization,
  insertOrgMembership,
  lockOrganization,
  type OrgMembership,
} from "../organization/organization.repository.js";
import { getOrganization, orgRef } from "../organization/organization.service.js";
import { teamRole } from "../team/team.relationships.js";
import { findDefaultTeam, insertTeamMembership } from "../team/team.repository.js";
import { findOrCreateUser, findUser, findUserByEmail } from "../user/user.repository.js";
import { findInvitationByTokenHash, markAccepted, type Invitation } from "./invitation.repository.js";

const INVITATION_LIFETIME_MS = 7 * 24 * 3600 * 1000;

export interface InviteInput {
  organizationId: string;
  email: string;
  role: OrgRole;
  teams?: { teamId: string; role: TeamRole }[] | null;
}

/** Org ADMINs invite; the token is returned once, for the inviter to deliver. */
export async function inviteMember(ctx: AppContext, input: InviteInput): Promise<{ invitation: Invitation; token: string }> {
  expectId(input.organizationId, "Organization");
  const email = validEmail(input.email);
  await ctx.authz.require(orgRef(input.organizationId), "manage_members");

  const teams = input.teams ?? null;
  if (teams) {
    const teamIds = teams.map((t) => t.teamId);
    teamIds.forEach((id) => expectId(id, "Team"));
    if (new Set(teamIds).size !== teamIds.length) throw badInput("A team is listed twice");
    const found = teamIds.length
      ? await ctx.db.selectFrom("teams").select("id").where("org_id", "=", input.organizationId).where("id", "in", teamIds).execute()
      : [];
    if (found.length !== teamIds.length) throw badInput("Every team must belong to the organization");
  }
  const existing = await findUserByEmail(ctx.db, email);
  if (existing && (await findOrgMembership(ctx.db, input.organizationId, existing.id))) {
    throw conflict(`${email} is already a member of this organization`);
  }

  const { secret, hash } = generateSecret("ogi");
  const invitation = await writeTransaction(ctx, (tx) =>
    tx
      .insertInto("invitations")
      .values({
        id: newId("Invitation"),
        org_id: input.organizationId,
        email,
        role: input.role,
        teams: teams === null ? null : JSON.stringify(teams),
        token_hash: hash,
        status: "PENDING",
        expires_at: new Date(Date.now() + INVITATION_LIFETIME_MS),
        invited_by: ctx.principal?.id ?? "",
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return { invitation, token: secret };
}

/**
 * Redeems an invitation: the token is the credential, so this works without signing in.
 * A caller who is signed in as a user must be the invited email. Single use, and expired
 * invitations are refused.
 */
export async function acceptInvitation(ctx: AppContext, token: string) {
  const invalid = badInput("This invitation is invalid, expired or already used");
  if (parseSecret(token) !== "ogi") throw invalid;
  const invitation = await findInvitationByTokenHash(ctx.db, hashSecret(token));
  if (!invitation || invitation.status !== "PENDING" || invitation.expires_at.getTime() <= Date.now()) throw invalid;
  if (ctx.principal) {
    const caller = ctx.principal.kind === "USER" ? await findUser(ctx.db, ctx.principal.id) : undefined;
    if (caller?.email !== invitation.email) throw forbidden("This invitation was sent to another email address");
  }

  describeAudit(ctx, { orgId: invitation.org_id, diff: { invitation: invitation.id, role: invitation.role, teams: invitation.teams } });
  const result = await writeTransaction(ctx, async (tx) => {
    const { user } = await findOrCreateUser(tx, invitation.email);
    if (ctx.audit) ctx.audit.targetId = user.id;
    // From here on the request acts as the new member, identified by the invitation: the
    // audit event names them, and the payload is read with their permissions.
    actAs(ctx, { kind: "USER", id: user.id, via: { method: "invitation", invitationId: invitation.id } });
    if (!(await markAccepted(tx, invitation.id, user.id))) throw invalid;
    if (await findOrgMembership(tx, invitation.org_id, user.id)) throw conflict("You are already a member of this organization");
    await insertOrgMembership(tx, invitation.org_id, user.id, invitation.role);
    await writeRelationships(tx, { orgId: invitation.org_id }, { add: [orgRole(invitation.org_id, user.id, invitation.role), userInOrg(user.id, invitation.org_id)] });

    const defaultTeam = await findDefaultTeam(tx, invitation.org_id);
    const teams = invitation.teams ?? [{ teamId: defaultTeam.id, role: "MEMBER" as const }];
    // Teams deleted since the invitation was sent are skipped.
    const existingTeams = new Set(
      teams.length
        ? (await tx.selectFrom("teams").select("id").where("id", "in", teams.map((t) => t.teamId)).execute()).map((t) => t.id)
        : [],
    );
    for (const { teamId, role } of teams.filter((t) => existingTeams.has(t.teamId))) {
      await insertTeamMembership(tx, { teamId, principalId: user.id, principalType: "user", role });
      await writeRelationships(tx, { orgId: invitation.org_id, teamId }, { add: [teamRole(teamId, ref("user", user.id), role)] });
    }
    const key = await issueApiKey(tx, { kind: "PERSONAL", name: "Created on joining", user_id: user.id, created_by: user.id });
    return { user, ...key };
  });
  const organization = await findOrganization(ctx.db, invitation.org_id);
  return { user: result.user, organization: organization!, apiKey: result.apiKey, secret: result.secret };
}

async function existingOrgMembership(ctx: AppContext, orgId: string, userId: string): Promise<OrgMembership> {
  expectId(userId, "User");
  const membership = await findOrgMembership(ctx.db, orgId, userId);
  if (!membership) throw notFound("That user is not a member of this organization");
  return membership;
}

const lastAdmin = () => conflict("The last ADMIN of an organization cannot be removed or demoted");

/** Removes the member from the organization, every team in it and every grant in it. */
export async function removeMember(ctx: AppContext, orgId: string, userId: string): Promise<boolean> {
  expectId(orgId, "Organization");
  await getOrganization(ctx, orgId);
  await ctx.authz.require(orgRef(orgId), "manage_members");
  const before = await existingOrgMembership(ctx, orgId, userId);
  describeAudit(ctx, { orgId, targetId: userId, diff: { role: { before: before.role, after: null } } });
  await writeTransaction(ctx, async (tx) => {
    await lockOrganization(tx, orgId);
    const membership = await findOrgMembership(tx, orgId, userId);
    if (!membership) throw notFound("That user is not a member of this organization");
    if (membership.role === "ADMIN" && (await countAdmins(tx, orgId)) <= 1) throw lastAdmin();
    await tx.deleteFrom("org_memberships").where("org_id", "=", orgId).where("user_id", "=", userId).execute();
    for (const table of ["team_memberships", "role_assignments"] as const) {
      await tx
        .deleteFrom(table)
        .where("principal_id", "=", userId)
        .where("team_id", "in", (eb) => eb.selectFrom("teams").select("id").where("org_id", "=", orgId))
        .execute();
    }
    // Every relationship recorded under the organization whose subject is the user, and the
    // one that lets its members see the user.
    const remove = [
      ...(await findRelationships(tx, { orgId, subject: ref("user", userId) })),
      userInOrg(userId, orgId),
    ];
    await writeRelationships(tx, { orgId }, { remove });
  });
  return true;
}

export async function setOrgRole(ctx: AppContext, orgId: string, userId: string, role: OrgRole): Promise<OrgMembership> {
  expectId(orgId, "Organization");
  await getOrganization(ctx, orgId);
  await ctx.authz.require(orgRef(orgId), "manage_members");
  const before = await existingOrgMembership(ctx, orgId, userId);
  describeAudit(ctx, { orgId, targetId: userId, diff: { role: { before: before.role, after: role } } });
  return writeTransaction(ctx, async (tx) => {
    await lockOrganization(tx, orgId);
    const current = await findOrgMembership(tx, orgId, userId);
    if (!current) throw notFound("That user is not a member of this organization");
    if (current.role === "ADMIN" && role !== "ADMIN" && (await countAdmins(tx, orgId)) <= 1) throw lastAdmin();
    const membership = await tx
      .updateTable("org_memberships")
      .set({ role })
      .where("org_id", "=", orgId)
      .where("user_id", "=", userId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeRelationships(tx, { orgId }, { remove: [orgRole(orgId, userId, current.role)], add: [orgRole(orgId, userId, role)] });
    return membership;
  });
}
