import { ref, type ObjectRef } from "../../authz/model.js";
import type { AppContext } from "../../context.js";
import { badInput } from "../../errors.js";
import { expectId, type EntityType } from "../../ids.js";
import { apiKeyById } from "../api-key/api-key.service.js";
import { orgMembershipOf } from "../organization/organization.service.js";
import { serviceAccountById } from "../service-account/service-account.service.js";
import type { Team } from "./team.repository.js";

/** The SpiceDB subject type of each kind of principal id. */
export const SUBJECT_TYPE_OF: Partial<Record<EntityType, string>> = {
  User: "user",
  ServiceAccount: "service_account",
  ApiKey: "api_key",
};

/**
 * Who may be granted something in `team` (a team role, a custom role, an environment):
 * users of its organization, service accounts of the team, and (where `teamKeys` says so)
 * FULL_ACCESS keys of the team. BAD_USER_INPUT otherwise, so no id of another team or
 * organization is ever written into this team's relationships.
 */
export async function resolveGrantee(
  ctx: AppContext,
  team: Team,
  principalId: string,
  options: { teamKeys?: boolean } = {},
): Promise<ObjectRef> {
  const type = options.teamKeys
    ? expectId(principalId, "User", "ServiceAccount", "ApiKey")
    : expectId(principalId, "User", "ServiceAccount");
  if (type === "User") {
    if (!(await orgMembershipOf(ctx.db, team.org_id, principalId))) {
      throw badInput("That user is not a member of this team's organization");
    }
  } else if (type === "ServiceAccount") {
    const account = await serviceAccountById(ctx.db, principalId);
    if (account?.team_id !== team.id) throw badInput("That service account does not belong to this team");
  } else {
    const key = await apiKeyById(ctx.db, principalId);
    if (!key || key.team_id !== team.id || key.type !== "FULL_ACCESS" || key.revoked_at) {
      throw badInput("Only FULL_ACCESS keys of this team can be granted access");
    }
  }
  return ref(SUBJECT_TYPE_OF[type]!, principalId);
}
