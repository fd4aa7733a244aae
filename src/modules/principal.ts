import { subjectOf, type Principal } from "../auth/principal.js";
import { Authorizer } from "../authz/authorizer.js";
import { ref, type ObjectRef } from "../authz/model.js";
import type { AppContext } from "../context.js";
import type { Row } from "../db/database.js";
import type { Loaders } from "../graphql/loaders.js";
import { badInput, forbidden, unauthenticated } from "../errors.js";
import { expectId, typeOfId, type EntityType } from "../ids.js";
import { findApiKey, type ApiKey } from "./api-key/api-key.repository.js";
import { findOrgMembership } from "./organization/organization.repository.js";
import type { Team } from "./team/team.repository.js";
import type { User } from "./user/user.repository.js";

/** The calling user, for actions only a person may take (create an organization, accept an invitation). */
export function requireUser(ctx: AppContext): Extract<Principal, { kind: "USER" }> {
  if (!ctx.principal) throw unauthenticated();
  if (ctx.principal.kind !== "USER") throw forbidden("Only a user can do this, not a service account or team key");
  return ctx.principal;
}

/** From here on, the request acts as `principal` (after redeeming an invitation, say). */
export function actAs(ctx: AppContext, principal: Principal): void {
  ctx.principal = principal;
  ctx.authz = new Authorizer(ctx.deps, subjectOf(principal), ctx.authz.snapshot);
}

/** The id the caller is recorded under (createdBy, startedBy). */
export const actorId = (ctx: AppContext): string | null => ctx.principal?.id ?? null;

/**
 * The row behind a principal id, for fields typed `Principal`: through the request's loaders,
 * so a list of 100 members or audit events costs one query per principal kind, not 100.
 */
export async function loadPrincipal(loaders: Loaders, id: string | null): Promise<User | ApiKey | Row<"service_accounts"> | null> {
  if (!id) return null;
  const type = typeOfId(id);
  if (type === "User") return (await loaders.user.load(id)) ?? null;
  if (type === "ApiKey") return (await loaders.apiKey.load(id)) ?? null;
  if (type === "ServiceAccount") return (await loaders.serviceAccount.load(id)) ?? null;
  return null;
}

export const SUBJECT_TYPE_OF: Partial<Record<EntityType, string>> = {
  User: "user",
  ServiceAccount: "service_account",
  ApiKey: "api_key",
};

/**
 * Who may be granted something in `team`: users of its organization, service accounts of
 * the team, and (where `teamKeys` says so) FULL_ACCESS keys of the team. BAD_USER_INPUT otherwise.
 */
export async function resolveTeamPrincipal(
  ctx: AppContext,
  team: Team,
  principalId: string,
  options: { teamKeys?: boolean } = {},
): Promise<ObjectRef> {
  const type = options.teamKeys
    ? expectId(principalId, "User", "ServiceAccount", "ApiKey")
    : expectId(principalId, "User", "ServiceAccount");
  if (type === "User") {
    if (!(await findOrgMembership(ctx.db, team.org_id, principalId))) {
      throw badInput("That user is not a member of this team's organization");
    }
  } else if (type === "ServiceAccount") {
    const account = await ctx.db.selectFrom("service_accounts").select("team_id").where("id", "=", principalId).executeTakeFirst();
    if (account?.team_id !== team.id) throw badInput("That service account does not belong to this team");
  } else {
    const key = await findApiKey(ctx.db, principalId);
    if (!key || key.team_id !== team.id || key.type !== "FULL_ACCESS" || key.revoked_at) {
      throw badInput("Only FULL_ACCESS keys of this team can be granted access");
    }
  }
  return ref(SUBJECT_TYPE_OF[type]!, principalId);
}
