import { ref } from "../../authz/model.js";
import { ORG_ROLE_GRANTS, requireHeld } from "../../authz/no-escalation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { OrgRole, Tx } from "../../db/database.js";
import { conflict, notFound } from "../../errors.js";
import { expectId } from "../../ids.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { orgRole, userInOrg } from "../organization/organization.relationships.js";
import type { OrgMembership } from "../organization/organization.repository.js";
import {
  changeOrgMembershipRole,
  getOrganization,
  lockOrgMemberships,
  orgAdminCount,
  orgMembershipOf,
  orgRef,
  removeOrgMembership,
} from "../organization/organization.service.js";
import { removeRoleAssignmentsInOrg } from "../role/role.service.js";
import { leaveTeamsOf } from "../team/team.service.js";

async function existingOrgMembership(ctx: AppContext, orgId: string, userId: string): Promise<OrgMembership> {
  expectId(userId, "User");
  const membership = await orgMembershipOf(ctx.db, orgId, userId);
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
  await requireHeld(ctx.authz, orgRef(orgId), ORG_ROLE_GRANTS[before.role], `remove a ${before.role}`);
  describeAudit(ctx, { orgId, targetId: userId, diff: { role: { before: before.role, after: null } } });
  await writeTransaction(ctx, async (tx) => {
    await lockOrgMemberships(tx, orgId);
    const membership = await orgMembershipOf(tx, orgId, userId);
    if (!membership) throw notFound("That user is not a member of this organization");
    if (membership.role === "ADMIN" && (await orgAdminCount(tx, orgId)) <= 1) throw lastAdmin();
    await removeMembershipIn(tx, orgId, userId);
  });
  return true;
}

/**
 * The cascade of a removal, in the caller's transaction (under lockOrgMemberships, authorized,
 * last-ADMIN rule checked): the membership, every team of the organization, every grant in it.
 * removeMember and the SSO sign-in's reconciliation (modules/sso) both go through here.
 */
export async function removeMembershipIn(tx: Tx, orgId: string, userId: string): Promise<void> {
  await removeOrgMembership(tx, orgId, userId);
  await leaveTeamsOf(tx, orgId, userId);
  await removeRoleAssignmentsInOrg(tx, orgId, userId);
  // Every relationship recorded under the organization whose subject is the user, and the
  // one that lets its members see the user.
  const remove = [
    ...(await findRelationships(tx, { orgId, subject: ref("user", userId) })),
    userInOrg(userId, orgId),
  ];
  await writeRelationships(tx, { orgId }, { remove });
}

export async function setOrgRole(ctx: AppContext, orgId: string, userId: string, role: OrgRole): Promise<OrgMembership> {
  expectId(orgId, "Organization");
  await getOrganization(ctx, orgId);
  await ctx.authz.require(orgRef(orgId), "manage_members");
  const before = await existingOrgMembership(ctx, orgId, userId);
  await requireHeld(ctx.authz, orgRef(orgId), [...ORG_ROLE_GRANTS[role], ...ORG_ROLE_GRANTS[before.role]], `change a ${before.role} to ${role}`);
  describeAudit(ctx, { orgId, targetId: userId, diff: { role: { before: before.role, after: role } } });
  return writeTransaction(ctx, async (tx) => {
    await lockOrgMemberships(tx, orgId);
    const current = await orgMembershipOf(tx, orgId, userId);
    if (!current) throw notFound("That user is not a member of this organization");
    if (current.role === "ADMIN" && role !== "ADMIN" && (await orgAdminCount(tx, orgId)) <= 1) throw lastAdmin();
    const membership = await changeOrgMembershipRole(tx, orgId, userId, role);
    await writeRelationships(tx, { orgId }, { remove: [orgRole(orgId, userId, current.role)], add: [orgRole(orgId, userId, role)] });
    return membership;
  });
}
