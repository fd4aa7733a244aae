import { ref } from "../../authz/model.js";
import { describeAudit } from "../audit/audit.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { Tx } from "../../db/database.js";
import { notFound } from "../../errors.js";
import { newId } from "../../ids.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { requireUser } from "../../auth/caller.js";
import { createDefaultTeam } from "../team/team.service.js";
import { orgRole, userInOrg } from "./organization.relationships.js";
import { findOrganization, insertOrgMembership, type Organization, findOrgMembership, findOrganizations } from "./organization.repository.js";

export const DEFAULT_TEAM_NAME = "Default";

export const orgRef = (id: string) => ref("organization", id);

/** Any user may create an organization; they become its ADMIN and ADMIN of its default team. */
export async function createOrganization(ctx: AppContext, name: string): Promise<Organization> {
  const user = requireUser(ctx);
  const orgName = validName(name, "organization name");
  return writeTransaction(ctx, (tx) => createOrganizationIn(tx, orgName, user.id));
}

/** Also used by `npm run bootstrap`, which has no request context. */
export async function createOrganizationIn(tx: Tx, name: string, adminUserId: string): Promise<Organization> {
  const org = await tx.insertInto("organizations").values({ id: newId("Organization"), name }).returningAll().executeTakeFirstOrThrow();
  await insertOrgMembership(tx, org.id, adminUserId, "ADMIN");
  await writeRelationships(tx, { orgId: org.id }, { add: [orgRole(org.id, adminUserId, "ADMIN"), userInOrg(adminUserId, org.id)] });
  await createDefaultTeam(tx, org.id, DEFAULT_TEAM_NAME, adminUserId);
  return org;
}

export async function renameOrganization(ctx: AppContext, id: string, name: string): Promise<Organization> {
  const orgName = validName(name, "organization name");
  await ctx.authz.require(orgRef(id), "manage");
  const before = await findOrganization(ctx.db, id);
  describeAudit(ctx, { orgId: id, targetId: id, diff: { name: { before: before?.name, after: orgName } } });
  return writeTransaction(ctx, (tx) =>
    tx.updateTable("organizations").set({ name: orgName }).where("id", "=", id).returningAll().executeTakeFirstOrThrow(),
  );
}

/** The organization if the caller may view it; NOT_FOUND otherwise. */
export async function getOrganization(ctx: AppContext, id: string): Promise<Organization> {
  await ctx.authz.requireVisible(orgRef(id));
  const org = await findOrganization(ctx.db, id);
  if (!org) throw notFound("organization not found");
  return org;
}

/* Reads for other modules (no authorization: the caller has authorized what it reads them for). */

/** The user's membership of the organization, if any. */
export const orgMembershipOf = findOrgMembership;
/** The organizations among `ids`. */
export const organizationsByIds = findOrganizations;
