import { ref, type ObjectRef, type Relationship } from "../../authz/model.js";
import { KEY_TYPE_GRANTS, requireDominates, requireHeld } from "../../authz/no-escalation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { Tx } from "../../db/database.js";
import { badInput, conflict } from "../../errors.js";
import { getVisible } from "../../get-visible.js";
import { expectId } from "../../ids.js";
import { MAX_REQUESTS_PER_MINUTE, validLimit, validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { refuseGraceSecret, requireUser } from "../../auth/caller.js";
import { checkChosenExpiry, policiesFor } from "../key-policy/key-policy.service.js";
import { environmentsOfTeam } from "../environment/environment.service.js";
import { serviceAccountById, serviceAccountRef } from "../service-account/service-account.service.js";
import { getBrowsableTeam, lockTeamScopes, teamById, teamRef, type Team } from "../team/team.service.js";
import { apiKeyRelationships, type KeyScope } from "./api-key.relationships.js";
import {
  findKeyIdsOfServiceAccount,
  findApiKey,
  findApiKeyBySecretHash,
  findScopedEnvironments,
  findScopedModels,
  findScopeIdsInTeam,
  insertApiKey,
  listTeamApiKeys,
  markKeyRevoked,
  recordLastUsed,
  revokeKeysMintedBy,
  capPersonalKeyExpiry,
  type ApiKey,
} from "./api-key.repository.js";

export const apiKeyRef = (id: string) => ref("api_key", id);

/** Stores a key (its hash) and records what it may reach; the secret is returned once. */
export async function issueApiKey(
  tx: Tx,
  values: Parameters<typeof insertApiKey>[1],
  options: { team?: Team; scope?: KeyScope } = {},
): Promise<{ apiKey: ApiKey; secret: string }> {
  const issued = await insertApiKey(tx, values);
  const owner = options.team ? { orgId: options.team.org_id, teamId: options.team.id } : {};
  await writeRelationships(tx, owner, { add: apiKeyRelationships(issued.apiKey, options.scope ?? { environmentIds: null, modelIds: null }) });
  return issued;
}

export interface CreateApiKeyInput {
  name: string;
  teamId?: string | null;
  serviceAccountId?: string | null;
  type?: ApiKey["type"] | null;
  environmentIds?: string[] | null;
  modelIds?: string[] | null;
  expiresAt?: Date | null;
  requestsPerMinute?: number | null;
}

/**
 * Without teamId and serviceAccountId: a personal key of the calling user (anyone may make
 * their own). With teamId: a team key (team ADMINs and org ADMINs). With serviceAccountId:
 * a key of that service account (its team's ADMINs).
 */
export async function createApiKey(ctx: AppContext, input: CreateApiKeyInput): Promise<{ apiKey: ApiKey; secret: string }> {
  refuseGraceSecret(ctx);
  const name = validName(input.name, "key name");
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw badInput("expiresAt must be in the future");
  const chosen = input.expiresAt ?? null;
  // The key policy of the organization the key acts in (a personal key: every one of its user's), read in the key's transaction.
  const policed = (tx: Tx, owner: { orgId: string } | { userId: string }) => policiesFor(tx, owner).then((policies) => checkChosenExpiry(policies, chosen));
  // Any kind of key may carry its own limit; it never loosens its team's (the stricter applies).
  // Validated once authorized: a team the caller cannot reach answers NOT_FOUND whatever the limit.
  const keyLimit = () => validLimit(input.requestsPerMinute ?? null, "requestsPerMinute", MAX_REQUESTS_PER_MINUTE);
  if (input.teamId && input.serviceAccountId) throw badInput("Give teamId or serviceAccountId, not both");

  if (input.serviceAccountId) {
    rejectTeamKeyOptions(input, "service-account");
    // Visibility first: an invisible account answers exactly as a nonexistent one.
    const account = await getVisible(ctx, "ServiceAccount", serviceAccountRef(input.serviceAccountId), serviceAccountById);
    const team = await getBrowsableTeam(ctx, account.team_id);
    await ctx.authz.require(teamRef(team.id), "manage_keys");
    // The key acts as the account: only someone who holds everything it holds may have one.
    const environments = (await environmentsOfTeam(ctx.db, team.id)).map((e) => ref("environment", e.id));
    await requireDominates(ctx.authz, ref("service_account", account.id), teamRef(team.id), environments, "create a key for this service account");
    const requests_per_minute = keyLimit();
    return writeTransaction(ctx, async (tx) => {
      const expires_at = await policed(tx, { orgId: team.org_id });
      return issueApiKey(tx, { kind: "SERVICE_ACCOUNT", name, team_id: team.id, service_account_id: account.id, created_by: ctx.principal!.id, expires_at, requests_per_minute }, { team });
    });
  }

  if (input.teamId) {
    const team = await getBrowsableTeam(ctx, input.teamId);
    await ctx.authz.require(teamRef(team.id), "manage_keys");
    if (!input.type) throw badInput("A team key needs a type: FULL_ACCESS, INFERENCE_ONLY or METRICS_ONLY");
    await requireHeld(ctx.authz, teamRef(team.id), KEY_TYPE_GRANTS[input.type], `create a ${input.type} key`);
    const requests_per_minute = keyLimit();
    const scope = { environmentIds: await scopeIds(ctx, team, "environments", input.environmentIds), modelIds: await scopeIds(ctx, team, "models", input.modelIds) };
    return writeTransaction(ctx, async (tx) => {
      // Under the team's scope lock, the scope is read again: an environment or model deleted
      // meanwhile would otherwise leave the new key scoped to nothing (read as "every one").
      await lockTeamScopes(tx, team.id);
      const expires_at = await policed(tx, { orgId: team.org_id });
      for (const [table, ids] of [["environments", scope.environmentIds], ["models", scope.modelIds]] as const) {
        if (ids && (await findScopeIdsInTeam(tx, table, team.id, ids)).length !== ids.length) throw conflict(`A scoped ${table.slice(0, -1)} was deleted meanwhile`);
      }
      return issueApiKey(tx, { kind: "TEAM", name, team_id: team.id, type: input.type!, created_by: ctx.principal!.id, expires_at, requests_per_minute }, { team, scope });
    });
  }

  const user = requireUser(ctx);
  rejectTeamKeyOptions(input, "personal");
  const requests_per_minute = keyLimit();
  return writeTransaction(ctx, async (tx) => {
    const expires_at = await policed(tx, { userId: user.id });
    return issueApiKey(tx, { kind: "PERSONAL", name, user_id: user.id, created_by: user.id, expires_at, requests_per_minute });
  });
}

function rejectTeamKeyOptions(input: CreateApiKeyInput, kind: string): void {
  if (input.type || input.environmentIds || input.modelIds) {
    throw badInput(`A ${kind} key acts as its owner: type, environmentIds and modelIds are for team keys`);
  }
}

/** Scope ids must be well-formed, distinct and belong to the key's team. */
async function scopeIds(ctx: AppContext, team: Team, table: "environments" | "models", ids: string[] | null | undefined): Promise<string[] | null> {
  if (ids === null || ids === undefined) return null;
  if (ids.length === 0) throw badInput(`Leave ${table === "environments" ? "environmentIds" : "modelIds"} out to reach every one; an empty list reaches none`);
  ids.forEach((id) => expectId(id, table === "environments" ? "Environment" : "Model"));
  const unique = [...new Set(ids)];
  const found = await findScopeIdsInTeam(ctx.db, table, team.id, unique);
  if (found.length !== unique.length) throw badInput(`Every scoped ${table === "environments" ? "environment" : "model"} must belong to the key's team`);
  return unique;
}

/** The key if the caller may see it (its owner, or its team's key managers); NOT_FOUND otherwise. */
export const getApiKey = (ctx: AppContext, id: string): Promise<ApiKey> => getVisible(ctx, "ApiKey", apiKeyRef(id), findApiKey);

/**
 * Revokes the key: authentication refuses it from the next request on, and a team key's
 * capabilities are removed from SpiceDB before this returns.
 */
export async function revokeApiKey(ctx: AppContext, id: string): Promise<ApiKey> {
  // A previous secret (perhaps leaked) revoking its key would end the owner's new secret too.
  refuseGraceSecret(ctx);
  const key = await getApiKey(ctx, id);
  const team = key.team_id ? await teamById(ctx.db, key.team_id) : undefined;
  if (team) await ctx.authz.require(teamRef(team.id), "manage_keys");
  return writeTransaction(ctx, async (tx) => {
    const revoked = await markKeyRevoked(tx, id, key.revoked_at ?? new Date());
    if (team) {
      const remove = await findRelationships(tx, { orgId: team.org_id, subject: apiKeyRef(id) });
      await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove });
    }
    return revoked;
  });
}

/** The environment and model ids a team key is scoped to (empty: unscoped), from the relationship record. */
export async function keyScope(ctx: AppContext, key: ApiKey): Promise<{ environmentIds: string[]; modelIds: string[] }> {
  if (key.kind !== "TEAM") return { environmentIds: [], modelIds: [] };
  const scoped = await findRelationships(ctx.db, { relations: ["scoped_key"], subject: apiKeyRef(key.id) });
  return {
    environmentIds: scoped.filter((r) => r.resource.type === "environment").map((r) => r.resource.id),
    modelIds: scoped.filter((r) => r.resource.type === "model").map((r) => r.resource.id),
  };
}

/** The environments a team key is scoped to, by name (none: unscoped). */
export const scopedEnvironments = async (ctx: AppContext, key: ApiKey) => findScopedEnvironments(ctx.db, (await keyScope(ctx, key)).environmentIds);
/** The models a team key is scoped to, by name (none: unscoped). */
export const scopedModels = async (ctx: AppContext, key: ApiKey) => findScopedModels(ctx.db, (await keyScope(ctx, key)).modelIds);
/** The team's keys and its service accounts' keys, in id order (the caller has authorized manage_keys). */
export const apiKeysOfTeam = listTeamApiKeys;

/* Reads and writes for other modules (no authorization: the caller has authorized them). */

/** The API key with this id (revoked or not), if any. */
export const apiKeyById = findApiKey;
/** The key whose secret hashes to `hash`, if any (authentication). */
export const apiKeyBySecretHash = findApiKeyBySecretHash;
/** Moves each key's last use forward (usage.ts writes them in batches). */
export const recordKeysLastUsed = recordLastUsed;
/** Revokes, in the caller's transaction, every live key that acts as the user or that the user created; returns them. */
export { revokeKeysMintedBy };
/** Caps the user's live personal keys at `cap` (key-policy.service.ts: on joining an organization). */
export { capPersonalKeyExpiry };
/** The ids of the service account's keys, revoked or not. */
export const keyIdsOfServiceAccount = findKeyIdsOfServiceAccount;

/**
 * Refuses to delete a scope target (an environment or a model) that some team key is scoped to
 * alone: the key would be left scoped to none. SpiceDB would let it reach nothing (no scope is
 * not "unscoped", which is a relationship of its own), but its scope would read as empty, which
 * ApiKey.environments / models and createApiKey mean as "every one". Such keys are revoked
 * first. Call it under lockTeamScopes, with the relationships on the target.
 */
export async function refuseStrandingKeys(tx: Tx, target: ObjectRef, onTarget: Relationship[]): Promise<void> {
  for (const key of onTarget.filter((r) => r.relation === "scoped_key").map((r) => r.subject)) {
    const scope = await findRelationships(tx, { relations: ["scoped_key"], subject: key });
    if (scope.filter((r) => r.resource.type === target.type).every((r) => r.resource.id === target.id)) {
      throw conflict(`A team key is scoped to this ${target.type} alone: revoke it (or every such key) first`);
    }
  }
}
