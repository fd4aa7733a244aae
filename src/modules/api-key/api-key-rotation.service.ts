import { refuseGraceSecret } from "../../auth/caller.js";
import { ref } from "../../authz/model.js";
import { KEY_TYPE_GRANTS, requireDominates, requireHeld } from "../../authz/no-escalation.js";
import type { AppContext } from "../../context.js";
import { badInput, forbidden, notFound } from "../../errors.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { environmentsOfTeam } from "../environment/environment.service.js";
import { policiesFor, rotatedExpiry } from "../key-policy/key-policy.service.js";
import { serviceAccountById, serviceAccountRef } from "../service-account/service-account.service.js";
import { teamById, teamRef, type Team } from "../team/team.service.js";
import { rotateKeySecret, type ApiKey } from "./api-key.repository.js";
import { apiKeyRef, getApiKey } from "./api-key.service.js";

/** The longest grace period a rotation may leave the previous secret: 7 days. */
export const MAX_GRACE_SECONDS = 7 * 86_400;

/**
 * Issue 16 §3: a new secret for the same key (same id, type, scope, grants, usage; shown once,
 * hashed at rest). The previous secret keeps working for `graceSeconds` (default 0: it dies
 * now), never past the key's expiry, and an expired key is not rotated; at most one previous
 * secret lives, so a second rotation kills the first secret at once. The key's expiry obeys
 * the key policy as a new key's would (key-policy.service.ts rotatedExpiry).
 *
 * Whoever rotates obtains the key's secret, so the rotation is authorized as creating that
 * key would be (no escalation): a personal key by its owner only; a team key by a holder of
 * team:manage_keys who also holds what its type confers and everything the key holds on the
 * team and each environment (a restricted environment it was granted included); a service
 * account's key by a manager of keys who holds everything the account holds. The rotator is
 * recorded (rotated_by), so revoking every key a user minted reaches the secrets they rotated.
 */
export async function rotateApiKey(ctx: AppContext, id: string, graceSeconds: number | null | undefined): Promise<{ apiKey: ApiKey; secret: string }> {
  refuseGraceSecret(ctx);
  const key = await getApiKey(ctx, id);
  const team = await authorizeRotation(ctx, key);
  const grace = graceSeconds ?? 0;
  if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
    throw badInput(`graceSeconds must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS.toLocaleString("en-US")} (7 days)`);
  }
  if (key.revoked_at) throw badInput("This key is revoked: it cannot be rotated");
  const now = new Date();
  if (key.expires_at && key.expires_at.getTime() <= now.getTime()) throw badInput("This key has expired: it cannot be rotated; create a new key");

  return writeTransaction(
    ctx,
    async (tx) => {
      const policies = await policiesFor(tx, team ? { orgId: team.org_id } : { userId: key.user_id! });
      const expiresAt = rotatedExpiry(policies, key.expires_at, now.getTime());
      // The previous secret: until the grace ends, never past the key's (new) expiry.
      const ends = [now.getTime() + grace * 1000, ...(expiresAt ? [expiresAt.getTime()] : [])];
      const previousUntil = grace > 0 ? new Date(Math.min(...ends)) : null;
      const rotated = await rotateKeySecret(tx, key, { previousUntil, rotatedBy: ctx.principal!.id, at: now, expiresAt });
      // Revoked meanwhile (the row is read again under its lock): nothing to rotate.
      if (!rotated) throw badInput("This key is revoked: it cannot be rotated");
      describeAudit(ctx, {
        ...(team ? { orgId: team.org_id, teamId: team.id } : {}),
        targetId: key.id,
        diff: {
          expiresAt: { before: key.expires_at?.toISOString() ?? null, after: expiresAt?.toISOString() ?? null },
          graceSeconds: grace,
          previousSecretValidUntil: previousUntil?.toISOString() ?? null,
        },
      });
      return rotated;
    },
    // No relationship changes: the payload (the only copy of the new secret) is never lost to a failing SpiceDB flush.
    { relationshipFree: true },
  );
}

/** The rules of createApiKey for creating this very key; returns the key's team (none: a personal key). */
async function authorizeRotation(ctx: AppContext, key: ApiKey): Promise<Team | undefined> {
  if (key.kind === "PERSONAL") {
    // Only its owner sees it; anyone else is answered as for a nonexistent key.
    if (ctx.principal?.kind !== "USER" || ctx.principal.id !== key.user_id) throw notFound();
    return undefined;
  }
  // A key whose team (or account) is gone is no key at all.
  const team = key.team_id ? await teamById(ctx.db, key.team_id) : undefined;
  if (!team) throw notFound();
  const scope = teamRef(team.id);
  if (!(await ctx.authz.can(scope, "manage_keys"))) throw forbidden("You are not allowed to manage keys on this team");
  const environments = (await environmentsOfTeam(ctx.db, team.id)).map((e) => ref("environment", e.id));
  if (key.kind === "SERVICE_ACCOUNT") {
    const account = key.service_account_id ? await serviceAccountById(ctx.db, key.service_account_id) : undefined;
    if (!account) throw notFound();
    await requireDominates(ctx.authz, serviceAccountRef(account.id), scope, environments, "rotate a key of this service account");
    return team;
  }
  await requireHeld(ctx.authz, scope, KEY_TYPE_GRANTS[key.type!], `rotate a ${key.type} key`);
  await requireDominates(ctx.authz, apiKeyRef(key.id), scope, environments, "rotate this key");
  return team;
}
