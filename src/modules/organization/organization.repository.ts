import type { Db, OrgRole, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type Organization = Row<"organizations">;
export type OrgMembership = Row<"org_memberships">;

export const findOrganization = (db: Db | Tx, id: string) =>
  db.selectFrom("organizations").selectAll().where("id", "=", id).executeTakeFirst();

export const insertOrganization = (tx: Tx, name: string) =>
  tx.insertInto("organizations").values({ id: newId("Organization"), name }).returningAll().executeTakeFirstOrThrow();

export const renameOrganizationRow = (tx: Tx, id: string, name: string) =>
  tx.updateTable("organizations").set({ name }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();

export const findOrganizations = (db: Db | Tx, ids: string[]) =>
  ids.length === 0 ? Promise.resolve([]) : db.selectFrom("organizations").selectAll().where("id", "in", ids).orderBy("name").execute();

export const findOrgMembership = (db: Db | Tx, orgId: string, userId: string) =>
  db.selectFrom("org_memberships").selectAll().where("org_id", "=", orgId).where("user_id", "=", userId).executeTakeFirst();

/** Members in id order, after the `after` user id. */
export function listOrgMemberships(db: Db, orgId: string, options: { after?: string; limit: number; onlyUserId?: string }) {
  let query = db.selectFrom("org_memberships").selectAll().where("org_id", "=", orgId);
  if (options.onlyUserId) query = query.where("user_id", "=", options.onlyUserId);
  if (options.after) query = query.where("user_id", ">", options.after);
  return query.orderBy("user_id").limit(options.limit).execute();
}

/** Locks the organization row: serializes changes that must see a stable set of admins. */
export const lockOrganization = (tx: Tx, orgId: string) =>
  tx.selectFrom("organizations").select("id").where("id", "=", orgId).forUpdate().executeTakeFirst();

export async function countAdmins(tx: Tx, orgId: string): Promise<number> {
  const row = await tx
    .selectFrom("org_memberships")
    .select((eb) => eb.fn.countAll<string>().as("count"))
    .where("org_id", "=", orgId)
    .where("role", "=", "ADMIN")
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** `ssoManaged`: granted by the organization's SSO connection (reconciled at each sign-in); false: by hand. */
export const insertOrgMembership = (tx: Tx, orgId: string, userId: string, role: OrgRole, ssoManaged = false) =>
  tx.insertInto("org_memberships").values({ org_id: orgId, user_id: userId, role, sso_managed: ssoManaged }).execute();

export const deleteOrgMembership = (tx: Tx, orgId: string, userId: string) =>
  tx.deleteFrom("org_memberships").where("org_id", "=", orgId).where("user_id", "=", userId).execute();

/** A change by hand (the default) makes the membership by hand: SSO leaves it alone from then on. */
export const updateOrgMembershipRole = (tx: Tx, orgId: string, userId: string, role: OrgRole, ssoManaged = false) =>
  tx
    .updateTable("org_memberships")
    .set({ role, sso_managed: ssoManaged })
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .returningAll()
    .executeTakeFirstOrThrow();

export const updateBillingEmail = (tx: Tx, id: string, email: string | null) =>
  tx.updateTable("organizations").set({ billing_email: email }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
