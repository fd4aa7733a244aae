import { ref } from "../../authz/model.js";
import { KEY_TYPE_GRANTS, requireDominates, requireHeld } from "../../authz/no-escalation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { Tx } from "../../db/database.js";
import { badInput, notFound } from "../../errors.js";
import { expectId } from "../../ids.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { requireUser } from "../../auth/caller.js";
import { listEnvironments } from "../environment/environment.repository.js";
import { findTeam, type Team } from "../team/team.repository.js";
import { getBrowsableTeam, teamRef } from "../team/team.service.js";
import { apiKeyRelationships, type KeyScope } from "./api-key.relationships.js";
import { findApiKey, insertApiKey, type ApiKey } from "./api-key.repository.js";

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
}

/**
 * Without teamId and serviceAccountId: a personal key of the calling user (anyone may make
 * their own). With teamId: a team key (team ADMINs and org ADMINs). With serviceAccountId:
 * a key of that service account (its team's ADMINs).
 */
export async function createApiKey(ctx: AppContext, input: CreateApiKeyInput): Promise<{ apiKey: ApiKey; secret: string }> {
  const name = validName(input.name, "key name");
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw badInput("expiresAt must be in the future");
  const expires_at = input.expiresAt ?? null;
  if (input.teamId && input.serviceAccountId) throw badInput("Give teamId or serviceAccountId, not both");

  if (input.serviceAccountId) {
    rejectTeamKeyOptions(input, "service-account");
    expectId(input.serviceAccountId, "ServiceAccount");
    // Visibility first: an invisible account answers exactly as a nonexistent one.
    await ctx.authz.requireVisible(ref("service_account", input.serviceAccountId));
    const account = await ctx.db.selectFrom("service_accounts").selectAll().where("id", "=", input.serviceAccountId).executeTakeFirst();
    if (!account) throw notFound("service_account not found");
    const team = await getBrowsableTeam(ctx, account.team_id);
    await ctx.authz.require(teamRef(team.id), "manage_keys");
    // The key acts as the account: only someone who holds everything it holds may have one.
    const environments = (await listEnvironments(ctx.db, team.id)).map((e) => ref("environment", e.id));
    await requireDominates(ctx.authz, ref("service_account", account.id), teamRef(team.id), environments, "create a key for this service account");
    return writeTransaction(ctx, (tx) =>
      issueApiKey(tx, { kind: "SERVICE_ACCOUNT", name, team_id: team.id, service_account_id: account.id, created_by: ctx.principal!.id, expires_at }, { team }),
    );
  }

  if (input.teamId) {
    const team = await getBrowsableTeam(ctx, input.teamId);
    await ctx.authz.require(teamRef(team.id), "manage_keys");
    if (!input.type) throw badInput("A team key needs a type: FULL_ACCESS, INFERENCE_ONLY or METRICS_ONLY");
    await requireHeld(ctx.authz, teamRef(team.id), KEY_TYPE_GRANTS[input.type], `create a ${input.type} key`);
    const scope = { environmentIds: await scopeIds(ctx, team, "environments", input.environmentIds), modelIds: await scopeIds(ctx, team, "models", input.modelIds) };
    return writeTransaction(ctx, (tx) =>
      issueApiKey(tx, { kind: "TEAM", name, team_id: team.id, type: input.type!, created_by: ctx.principal!.id, expires_at }, { team, scope }),
    );
  }

  const user = requireUser(ctx);
  rejectTeamKeyOptions(input, "personal");
  return writeTransaction(ctx, (tx) => issueApiKey(tx, { kind: "PERSONAL", name, user_id: user.id, created_by: user.id, expires_at }));
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
  const found = await ctx.db.selectFrom(table).select("id").where("team_id", "=", team.id).where("id", "in", unique).execute();
  if (found.length !== unique.length) throw badInput(`Every scoped ${table === "environments" ? "environment" : "model"} must belong to the key's team`);
  return unique;
}

/** The key if the caller may see it (its owner, or its team's key managers); NOT_FOUND otherwise. */
export async function getApiKey(ctx: AppContext, id: string): Promise<ApiKey> {
  expectId(id, "ApiKey");
  await ctx.authz.requireVisible(apiKeyRef(id));
  const key = await findApiKey(ctx.db, id);
  if (!key) throw notFound("API key not found");
  return key;
}

/**
 * Revokes the key: authentication refuses it from the next request on, and a team key's
 * capabilities are removed from SpiceDB before this returns.
 */
export async function revokeApiKey(ctx: AppContext, id: string): Promise<ApiKey> {
  const key = await getApiKey(ctx, id);
  const team = key.team_id ? await findTeam(ctx.db, key.team_id) : undefined;
  if (team) await ctx.authz.require(teamRef(team.id), "manage_keys");
  return writeTransaction(ctx, async (tx) => {
    const revoked = await tx
      .updateTable("api_keys")
      .set({ revoked_at: key.revoked_at ?? new Date() })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
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

/* Reads for other modules (no authorization: the caller has authorized what it reads them for). */

/** The API key with this id (revoked or not), if any. */
export const apiKeyById = findApiKey;
