import { ref } from "../../authz/model.js";
import { requireHeld, TEAM_ROLE_GRANTS } from "../../authz/no-escalation.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { TeamRole } from "../../db/database.js";
import { getVisible } from "../../get-visible.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { refuseGraceSecret } from "../../auth/caller.js";
import { issueApiKey } from "../api-key/api-key.service.js";
import { defaultExpiry, policiesFor } from "../key-policy/key-policy.service.js";
import { getBrowsableTeam, joinTeam, teamRef } from "../team/team.service.js";
import { serviceAccountInTeam } from "./service-account.relationships.js";
import { deleteServiceAccount, findServiceAccount, insertServiceAccount, type ServiceAccount } from "./service-account.repository.js";

export const serviceAccountRef = (id: string) => ref("service_account", id);

/** The service account if the caller may view it (its team's viewers); NOT_FOUND otherwise. */
export const getServiceAccount = (ctx: AppContext, id: string): Promise<ServiceAccount> =>
  getVisible(ctx, "ServiceAccount", serviceAccountRef(id), findServiceAccount);

/**
 * A non-human member of one team, with a team role there, acting through its keys. Created
 * with its first key (shown once). Removing it from the team (removeTeamMember) leaves it no
 * permission anywhere, and so does deleting it (deleteServiceAccount, which shares that
 * removal: team-membership.service.ts).
 */
export async function createServiceAccount(ctx: AppContext, teamId: string, name: string, role: TeamRole) {
  refuseGraceSecret(ctx);
  const accountName = validName(name, "service account name");
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "manage_keys");
  await requireHeld(ctx.authz, teamRef(teamId), TEAM_ROLE_GRANTS[role], `create a service account with the ${role} role`);
  return writeTransaction(
    ctx,
    async (tx) => {
      const serviceAccount = await insertServiceAccount(tx, { teamId, name: accountName, createdBy: ctx.principal!.id });
      const subject = ref("service_account", serviceAccount.id);
      await joinTeam(tx, team, subject, role);
      await writeRelationships(tx, { orgId: team.org_id, teamId }, { add: [serviceAccountInTeam(serviceAccount.id, teamId)] });
      // Its first key obeys the organization's key policy: the policy's cap as its expiry (key-policy.service.ts defaultExpiry).
      const expires_at = defaultExpiry(await policiesFor(tx, { orgId: team.org_id }));
      const { apiKey, secret } = await issueApiKey(
        tx,
        { kind: "SERVICE_ACCOUNT", name: `${accountName} key`, team_id: teamId, service_account_id: serviceAccount.id, created_by: ctx.principal!.id, expires_at },
        { team },
      );
      return { serviceAccount, apiKey, secret };
    },
    { onConflict: `The team already has a service account named "${accountName}"` },
  );
}

/* Reads for other modules (no authorization: the caller has authorized what it reads them for). */

/** The service account with this id, if any. */
export const serviceAccountById = findServiceAccount;
/** Deletes the account's row (its keys cascade); the caller removes its relationships. */
export const removeServiceAccountRow = deleteServiceAccount;
