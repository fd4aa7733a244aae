import type { AppContext } from "../../context.js";
import type { Tx } from "../../db/database.js";
import { badInput } from "../../errors.js";
import { expectId } from "../../ids.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { orgRef } from "../organization/organization.service.js";
import type { Organization } from "../organization/organization.repository.js";
import { capPersonalKeyExpiry } from "../api-key/api-key.service.js";
import { findOrgKeyPolicy, findOrgKeyPolicyForShare, findUserKeyPolicies, updateOrgKeyPolicy } from "./key-policy.repository.js";

/**
 * Issue 16 §3: an organization's key policy. It caps the lifetime of every new key that acts
 * in the organization (team and service-account keys of its teams; personal keys of its
 * members, since a personal key acts in every organization of its user: the strictest policy
 * among them applies) and can refuse keys without an expiry. It applies to keys minted from
 * now on (createApiKey of every kind, createServiceAccount's first key, the key of
 * acceptInvitation) and to rotations (rotateApiKey); existing keys keep their expiry.
 */
export interface KeyPolicy {
  maxLifetimeDays: number | null;
  requireExpiry: boolean;
}

export const MAX_KEY_LIFETIME_DAYS = 3650;
/** The expiry given to a key minted without one (createServiceAccount, acceptInvitation) when a policy requires one but caps nothing. */
export const DEFAULT_REQUIRED_LIFETIME_DAYS = 90;
const DAY_MS = 86_400_000;

type PolicyRow = { name: string; key_max_lifetime_days: number | null; key_require_expiry: boolean };

export const keyPolicyOf = (org: Pick<Organization, "key_max_lifetime_days" | "key_require_expiry">): KeyPolicy => ({
  maxLifetimeDays: org.key_max_lifetime_days,
  requireExpiry: org.key_require_expiry,
});

/**
 * Sets the organization's key policy: org:manage (org ADMINs), as renaming and configuring it.
 * Not a grant, so no escalation guard; authorized before the input is judged, so an outsider
 * learns nothing from it. Existing keys are not changed.
 */
export async function setKeyPolicy(ctx: AppContext, orgId: string, input: KeyPolicy): Promise<Organization> {
  expectId(orgId, "Organization");
  await ctx.authz.require(orgRef(orgId), "manage");
  const max = input.maxLifetimeDays;
  if (max !== null && (!Number.isInteger(max) || max < 1 || max > MAX_KEY_LIFETIME_DAYS)) {
    throw badInput(`maxLifetimeDays must be a whole number of days from 1 to ${MAX_KEY_LIFETIME_DAYS}, or null for no cap`);
  }
  const before = await findOrgKeyPolicy(ctx.db, orgId);
  describeAudit(ctx, {
    orgId,
    targetId: orgId,
    diff: {
      maxLifetimeDays: { before: before?.key_max_lifetime_days ?? null, after: max },
      requireExpiry: { before: before?.key_require_expiry ?? false, after: input.requireExpiry },
    },
  });
  return writeTransaction(ctx, (tx) => updateOrgKeyPolicy(tx, orgId, { maxLifetimeDays: max, requireExpiry: input.requireExpiry }));
}

/**
 * The policies a new key of the team's organization, or a new personal key of the user, must
 * obey; in the minting transaction, their rows locked FOR SHARE until it commits (a concurrent
 * setKeyPolicy waits, so no key it forbids is minted after it).
 */
export async function policiesFor(tx: Tx, owner: { orgId: string } | { userId: string }): Promise<PolicyRow[]> {
  if ("userId" in owner) return findUserKeyPolicies(tx, owner.userId);
  const row = await findOrgKeyPolicyForShare(tx, owner.orgId);
  return row ? [row] : [];
}

/** The strictest cap among the policies, with the organization that sets it. */
function tightestCap(policies: PolicyRow[]): PolicyRow | undefined {
  return policies
    .filter((p) => p.key_max_lifetime_days !== null)
    .sort((a, b) => a.key_max_lifetime_days! - b.key_max_lifetime_days!)[0];
}

const capOf = (policy: PolicyRow, now: number) => new Date(now + policy.key_max_lifetime_days! * DAY_MS);

/**
 * createApiKey's expiresAt under the policies: BAD_USER_INPUT naming the limit when it breaks
 * one. Left out under a cap that does not require an expiry, the key expires at the cap (a
 * key that never expires would outlive it).
 */
export function checkChosenExpiry(policies: PolicyRow[], expiresAt: Date | null, now = Date.now()): Date | null {
  const requiring = policies.find((p) => p.key_require_expiry);
  if (!expiresAt && requiring) {
    throw badInput(`The key policy of organization "${requiring.name}" requires an expiry (requireExpiry): give expiresAt`);
  }
  const cap = tightestCap(policies);
  if (!expiresAt) return cap ? capOf(cap, now) : null;
  if (expiresAt && cap && expiresAt.getTime() > capOf(cap, now).getTime()) {
    throw badInput(`expiresAt is beyond the key policy of organization "${cap.name}": keys live at most ${cap.key_max_lifetime_days} days (maxLifetimeDays)`);
  }
  return expiresAt;
}

/**
 * The expiry of a key minted without a chosen one (createServiceAccount's first key,
 * acceptInvitation's): none without a policy; the tightest cap; else, when one requires an
 * expiry, DEFAULT_REQUIRED_LIFETIME_DAYS.
 */
export function defaultExpiry(policies: PolicyRow[], now = Date.now()): Date | null {
  const cap = tightestCap(policies);
  if (cap) return capOf(cap, now);
  return policies.some((p) => p.key_require_expiry) ? new Date(now + DEFAULT_REQUIRED_LIFETIME_DAYS * DAY_MS) : null;
}

/**
 * A rotation mints a new secret, so its lifetime obeys the policy as a new key's would. It
 * takes no expiry of its own, so the key's expiry is kept where the policy allows it and
 * CAPPED where it does not (at now + the tightest maxLifetimeDays, a key without expiry
 * included); a key without expiry under a policy that requires one but caps nothing cannot
 * be given one: refused (BAD_USER_INPUT naming the policy), create a new key instead.
 */
export function rotatedExpiry(policies: PolicyRow[], expiresAt: Date | null, now = Date.now()): Date | null {
  const cap = tightestCap(policies);
  const capped = cap && (!expiresAt || expiresAt.getTime() > capOf(cap, now).getTime()) ? capOf(cap, now) : expiresAt;
  const requiring = policies.find((p) => p.key_require_expiry);
  if (!capped && requiring) {
    throw badInput(`The key policy of organization "${requiring.name}" requires an expiry (requireExpiry) and this key has none: create a new key with expiresAt instead`);
  }
  return capped;
}

/**
 * On joining an organization (acceptInvitation), the user's live personal keys start acting in
 * it, so they obey its policy from then on: a key without expiry, or living past the policy's
 * limit (its cap, else DEFAULT_REQUIRED_LIFETIME_DAYS under requireExpiry), ends at that limit.
 * Without a policy nothing changes. Returns the ids of the keys capped.
 */
export async function capPersonalKeysOnJoining(tx: Tx, orgId: string, userId: string, now = Date.now()): Promise<string[]> {
  const limit = defaultExpiry(await policiesFor(tx, { orgId }), now);
  return limit ? capPersonalKeyExpiry(tx, userId, limit) : [];
}
