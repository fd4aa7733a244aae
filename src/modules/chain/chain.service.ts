import { ref } from "../../authz/model.js";
import { CHAIN_ACCESS_GRANTS, requireHeld } from "../../authz/no-escalation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import { badInput, notFound } from "../../errors.js";
import { expectId, newId } from "../../ids.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { findOrgMembership } from "../organization/organization.repository.js";
import { actorId } from "../../auth/caller.js";
import { listSecretNames } from "../secret/secret.repository.js";
import { findTeam, type Team } from "../team/team.repository.js";
import { getBrowsableTeam, teamRef } from "../team/team.service.js";
import { chainAccess, chainInTeam, CHAIN_ACCESS_RELATIONS, type ChainAccess } from "./chain.relationships.js";
import { findChain, type Chain, type ChainRun } from "./chain.repository.js";

export const chainRef = (id: string) => ref("chain", id);

const MAX_DEFINITION_BYTES = 256 * 1024;

export async function getChain(ctx: AppContext, id: string): Promise<Chain> {
  expectId(id, "Chain");
  await ctx.authz.requireVisible(chainRef(id));
  const chain = await findChain(ctx.db, id);
  if (!chain) throw notFound("chain not found");
  return chain;
}

/**
 * Chains reference secrets by name only, as `{ "$secret": "NAME" }` anywhere in the
 * definition; every name must exist in the team.
 */
export function secretReferences(definition: unknown): string[] {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      const record = value as Record<string, unknown>;
      if (typeof record.$secret === "string") names.add(record.$secret);
      Object.values(record).forEach(visit);
    }
  };
  visit(definition);
  return [...names].sort();
}

async function validDefinition(ctx: AppContext, teamId: string, definition: unknown): Promise<string | null> {
  if (definition === undefined || definition === null) return null;
  const text = JSON.stringify(definition);
  if (text.length > MAX_DEFINITION_BYTES) throw badInput(`A chain definition must be at most ${MAX_DEFINITION_BYTES} bytes`);
  const referenced = secretReferences(definition);
  if (referenced.length > 0) {
    const known = new Set(await listSecretNames(ctx.db, teamId));
    const unknown = referenced.filter((name) => !known.has(name));
    if (unknown.length > 0) throw badInput(`The team has no secret named ${unknown.map((n) => `"${n}"`).join(", ")}`);
  }
  return text;
}

export async function createChain(ctx: AppContext, teamId: string, name: string, definition: unknown): Promise<Chain> {
  const chainName = validName(name, "chain name");
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "resources_write");
  const definitionText = await validDefinition(ctx, teamId, definition);
  return writeTransaction(
    ctx,
    async (tx) => {
      const chain = await tx
        .insertInto("chains")
        .values({ id: newId("Chain"), team_id: teamId, name: chainName, definition: definitionText, created_by: actorId(ctx) })
        .returningAll()
        .executeTakeFirstOrThrow();
      await writeRelationships(tx, { orgId: team.org_id, teamId }, { add: chainInTeam(chain.id, teamId) });
      return chain;
    },
    { onConflict: `The team already has a chain named "${chainName}"` },
  );
}

export async function updateChain(ctx: AppContext, id: string, definition: unknown): Promise<Chain> {
  const chain = await getChain(ctx, id);
  await ctx.authz.require(chainRef(id), "edit");
  const definitionText = await validDefinition(ctx, chain.team_id, definition);
  return writeTransaction(ctx, (tx) =>
    tx.updateTable("chains").set({ definition: definitionText }).where("id", "=", id).returningAll().executeTakeFirstOrThrow(),
  );
}

/** Records a run (the platform's workers execute it); who started it is kept. */
export async function runChain(ctx: AppContext, id: string, input: unknown): Promise<ChainRun> {
  await getChain(ctx, id);
  await ctx.authz.require(chainRef(id), "run");
  const inputText = input === undefined || input === null ? null : JSON.stringify(input);
  if (inputText && inputText.length > MAX_DEFINITION_BYTES) throw badInput(`A chain input must be at most ${MAX_DEFINITION_BYTES} bytes`);
  return writeTransaction(ctx, (tx) =>
    tx
      .insertInto("chain_runs")
      .values({ id: newId("ChainRun"), chain_id: id, status: "QUEUED", input: inputText, started_by: actorId(ctx) })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
}

export async function deleteChain(ctx: AppContext, id: string): Promise<boolean> {
  const chain = await getChain(ctx, id);
  await ctx.authz.require(chainRef(id), "delete");
  const team = (await findTeam(ctx.db, chain.team_id))!;
  await writeTransaction(ctx, async (tx) => {
    const remove = [...(await findRelationships(tx, { resource: chainRef(id) })), ...chainInTeam(id, team.id)];
    await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove });
    await tx.deleteFrom("chains").where("id", "=", id).execute();
  });
  return true;
}

async function shareTarget(ctx: AppContext, chainId: string, userId: string): Promise<{ chain: Chain; team: Team }> {
  const chain = await getChain(ctx, chainId);
  await ctx.authz.require(chainRef(chainId), "share");
  expectId(userId, "User");
  const team = (await findTeam(ctx.db, chain.team_id))!;
  if (!(await findOrgMembership(ctx.db, team.org_id, userId))) throw badInput("That user is not a member of this organization");
  return { chain, team };
}

/** Gives the user exactly `access` on the chain (replacing any other access they had). */
export async function shareChain(ctx: AppContext, chainId: string, userId: string, access: ChainAccess): Promise<Chain> {
  const { chain, team } = await shareTarget(ctx, chainId, userId);
  await requireHeld(ctx.authz, chainRef(chainId), CHAIN_ACCESS_GRANTS[access], `share this chain as ${access}`);
  await writeTransaction(ctx, async (tx) => {
    const current = await findRelationships(tx, { resource: chainRef(chainId), relations: CHAIN_ACCESS_RELATIONS, subject: ref("user", userId) });
    await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove: current, add: [chainAccess(chainId, userId, access)] });
  });
  return chain;
}

export async function unshareChain(ctx: AppContext, chainId: string, userId: string): Promise<Chain> {
  const { chain, team } = await shareTarget(ctx, chainId, userId);
  await writeTransaction(ctx, async (tx) => {
    const current = await findRelationships(tx, { resource: chainRef(chainId), relations: CHAIN_ACCESS_RELATIONS, subject: ref("user", userId) });
    await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove: current });
  });
  return chain;
}
