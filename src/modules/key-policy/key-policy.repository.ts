import type { Db, Tx } from "../../db/database.js";

/** An organization's key policy columns (migration 0016), with its name for messages. */
const POLICY_COLUMNS = ["organizations.id", "organizations.name", "organizations.key_max_lifetime_days", "organizations.key_require_expiry"] as const;

export const findOrgKeyPolicy = (db: Db | Tx, orgId: string) =>
  db.selectFrom("organizations").select(POLICY_COLUMNS).where("id", "=", orgId).executeTakeFirst();

/**
 * The policy a key being minted obeys, read FOR SHARE: a setKeyPolicy's update waits for the
 * minting transaction to commit (and a minting after it reads the new policy), so no key
 * minted under the old policy commits after the new one.
 */
export const findOrgKeyPolicyForShare = (tx: Tx, orgId: string) =>
  tx.selectFrom("organizations").select(POLICY_COLUMNS).where("id", "=", orgId).forShare().executeTakeFirst();

/** The key policies of every organization the user is a member of (a personal key acts in each), FOR SHARE as above. */
export const findUserKeyPolicies = (tx: Tx, userId: string) =>
  tx
    .selectFrom("organizations")
    .innerJoin("org_memberships", "org_memberships.org_id", "organizations.id")
    .select(POLICY_COLUMNS)
    .where("org_memberships.user_id", "=", userId)
    .orderBy("organizations.id")
    .forShare("organizations")
    .execute();

export const updateOrgKeyPolicy = (tx: Tx, orgId: string, policy: { maxLifetimeDays: number | null; requireExpiry: boolean }) =>
  tx
    .updateTable("organizations")
    .set({ key_max_lifetime_days: policy.maxLifetimeDays, key_require_expiry: policy.requireExpiry })
    .where("id", "=", orgId)
    .returningAll()
    .executeTakeFirstOrThrow();
