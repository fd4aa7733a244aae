import { ref } from "../../authz/model.js";
import { describeAudit } from "../audit/audit.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { Tx } from "../../db/database.js";
import { getVisible } from "../../get-visible.js";
import { expectId } from "../../ids.js";
import { validEmail, validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { requireUser } from "../../auth/caller.js";
import { forbidden } from "../../errors.js";
import { userById } from "../user/user.service.js";
import { createDefaultTeam } from "../team/team.service.js";
import { orgAdmitsEveryAddress, orgRole, userInOrg } from "./organization.relationships.js";
import { countAdmins, deleteOrgMembership, findOrganization, findOrganizations, findOrgMembership, insertOrganization, insertOrgMembership, listOrgMemberships, lockOrganization, renameOrganizationRow, updateOrgMembershipRole, type Organization, updateBillingEmail } from "./organization.repository.js";

export const DEFAULT_TEAM_NAME = "Default";

export const orgRef = (id: string) => ref("organization", id);

/** Any user may create an organization; they become its ADMIN and ADMIN of its default team. */
export async function createOrganization(ctx: AppContext, name: string): Promise<Organization> {
  const user = requireUser(ctx);
  // A managed account (SSO-provisioned) belongs to its organization only.
  if ((await userById(ctx.db, user.id))?.managed_by_org_id) {
    throw forbidden("An account managed by an organization's single sign-on cannot create organizations");
  }
  const orgName = validName(name, "organization name");
  return writeTransaction(ctx, (tx) => createOrganizationIn(tx, orgName, user.id));
}

/** Also used by `npm run bootstrap`, which has no request context. */
export async function createOrganizationIn(tx: Tx, name: string, adminUserId: string): Promise<Organization> {
  const org = await insertOrganization(tx, name);
  await insertOrgMembership(tx, org.id, adminUserId, "ADMIN");
  await writeRelationships(tx, { orgId: org.id }, { add: [orgRole(org.id, adminUserId, "ADMIN"), userInOrg(adminUserId, org.id), ...orgAdmitsEveryAddress(org.id)] });
  await createDefaultTeam(tx, org.id, DEFAULT_TEAM_NAME, adminUserId);
  return org;
}

export async function renameOrganization(ctx: AppContext, id: string, name: string): Promise<Organization> {
  const orgName = validName(name, "organization name");
  await ctx.authz.require(orgRef(id), "manage");
  const before = await findOrganization(ctx.db, id);
  describeAudit(ctx, { orgId: id, targetId: id, diff: { name: { before: before?.name, after: orgName } } });
  return writeTransaction(ctx, (tx) => renameOrganizationRow(tx, id, orgName));
}

/**
 * Where invoices and spend alerts go (null clears it): billing:manage (org ADMIN, BILLING_ADMIN).
 * Not a grant of anything, so no escalation guard; the address is validated, never verified here.
 */
export async function setBillingEmail(ctx: AppContext, id: string, email: string | null): Promise<Organization> {
  expectId(id, "Organization");
  // Authorized first: a stranger learns nothing from the shape of its input, not even whether it is valid.
  await ctx.authz.require(orgRef(id), "billing_manage");
  const address = email === null ? null : validEmail(email);
  const before = await findOrganization(ctx.db, id);
  describeAudit(ctx, { orgId: id, targetId: id, diff: { billingEmail: { before: before?.billing_email ?? null, after: address } } });
  return writeTransaction(ctx, (tx) => updateBillingEmail(tx, id, address));
}

/** The organization if the caller may view it; NOT_FOUND otherwise. */
export const getOrganization = (ctx: AppContext, id: string): Promise<Organization> =>
  getVisible(ctx, "Organization", orgRef(id), findOrganization);

/* Reads and writes for other modules (no authorization: the caller has authorized them). */

/** The organization with this id, if any. */
export const organizationById = findOrganization;
/** The user's membership of the organization, if any. */
export const orgMembershipOf = findOrgMembership;
/** The organizations among `ids`. */
export const organizationsByIds = findOrganizations;
/** The organization's memberships in user id order, after the `after` user id (one page). */
export const orgMembershipsPage = listOrgMemberships;
/** How many ADMINs the organization has, read under lockOrgMemberships. */
export const orgAdminCount = countAdmins;
/** Serializes, until the transaction ends, the changes that must see a stable set of the organization's ADMINs. */
export const lockOrgMemberships = lockOrganization;
/** The membership row alone; its relationships are the caller's to write. */
export const addOrgMembership = insertOrgMembership;
/** The membership row alone; its relationships are the caller's to remove. */
export const removeOrgMembership = deleteOrgMembership;
/** The membership row alone, returned; its relationships are the caller's to change. */
export const changeOrgMembershipRole = updateOrgMembershipRole;
