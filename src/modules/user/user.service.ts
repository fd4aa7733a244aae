import { ref } from "../../authz/model.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppDeps } from "../../context.js";
import { revokeKeysMintedBy } from "../api-key/api-key.service.js";
import { revokeInvitationsSentBy } from "../member/invitation.service.js";
import type { Tx } from "../../db/database.js";
import { userSelf } from "./user.relationships.js";
import { findManagedUser, findUser, findUserByEmail, insertManagedUser, insertUser, markSsoReconciled, markVerified, type User } from "./user.repository.js";

/**
 * The first verified sign-in (an OIDC token with email_verified) of an account that a
 * signed-out invitation acceptance created. Whoever accepted may not have been the owner of
 * the email (account pre-hijacking, Sudhodanan & Paverd 2022): every credential minted before
 * this moment — keys acting as the user, keys the user created, invitations the user sent — is revoked, in one
 * transaction that moves the cache stamp, before the sign-in is answered.
 */
export async function verifyAccount(deps: AppDeps, userId: string): Promise<void> {
  const revoked = await deps.db.transaction().execute(async (tx) => {
    if (!(await markVerified(tx, userId))) return [];
    const keys = await revokeKeysMintedBy(tx, userId, new Date());
    // Invitations the account sent before then are credentials-to-be of someone else's choosing.
    await revokeInvitationsSentBy(tx, userId);
    // A team key's capabilities go too (authentication already refuses a revoked key).
    const remove = (await Promise.all(keys.map((key) => findRelationships(tx, { subject: ref("api_key", key.id) })))).flat();
    await writeRelationships(tx, {}, { remove });
    await deps.consistency.changing(tx);
    return keys;
  });
  deps.consistency.changed();
  if (revoked.length > 0) {
    deps.logger.warn({ userId, revokedKeys: revoked.map((k) => k.id) }, "first verified sign-in: revoked every credential minted before it");
  }
  await deps.outbox.flush();
}

/**
 * The platform account with this email, created if new (managed accounts are never reached by
 * email: user.repository.ts findUserByEmail). Users belong to no organization by themselves,
 * so their one relationship (self) is recorded outside any organization. `verified`: whoever
 * creates the account vouches for the email (an OIDC token with email_verified, the operator
 * running bootstrap); a signed-out invitation acceptance does not.
 */
export async function findOrCreateUser(tx: Tx, email: string, options: { verified: boolean }): Promise<{ user: User; created: boolean }> {
  const existing = await findUserByEmail(tx, email);
  if (existing) return { user: existing, created: false };
  const user = await insertUser(tx, { email, verified: options.verified });
  await writeRelationships(tx, {}, { add: [userSelf(user.id)] });
  return { user, created: true };
}

/**
 * The account an organization's SSO connection signs in for this issuer's subject, created
 * (managed by the organization, with its self relationship) if new, in the caller's transaction.
 */
export async function findOrCreateManagedUser(
  tx: Tx,
  identity: { orgId: string; issuer: string; subject: string; email: string },
): Promise<{ user: User; created: boolean }> {
  const existing = await findManagedUser(tx, identity.orgId, identity.issuer, identity.subject);
  if (existing) return { user: existing, created: false };
  const user = await insertManagedUser(tx, identity);
  await writeRelationships(tx, {}, { add: [userSelf(user.id)] });
  return { user, created: true };
}

/** A managed account's id lookup without creating: for the read-only pass before a sign-in's transaction. */
export const managedUserOf = findManagedUser;
/** Moves the managed account's reconciled-iat mark forward (sso-sign-in.service.ts). */
export { markSsoReconciled };
export type { User };

/* Reads for other modules (no authorization: the caller has authorized what it reads them for). */

/** The user with this id, if any. */
export const userById = findUser;
/** The user with this email, if any. */
export const userByEmail = findUserByEmail;
/**
 * The user with this email, created (with its self relationship) if new, in the caller's
 * transaction: just-in-time sign-in, invitations, bootstrap.
 */
