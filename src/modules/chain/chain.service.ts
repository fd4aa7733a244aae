import { ref } from "../../authz/model.js";
import { CHAIN_ACCESS_GRANTS, requireHeld } from "../../authz/no-escalation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import { badInput } from "../../errors.js";
import { getVisible } from "../../get-visible.js";
import { expectId } from "../../ids.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { orgMembershipOf } from "../organization/organization.service.js";
import { actorId } from "../../auth/caller.js";
import { withoutSecretNames } from "../secret/secret-names.js";
import { secretNamesOfTeam } from "../secret/secret.service.js";
import { teamById, type Team } from "../team/team.service.js";
import { writeInTeam } from "../team/write-in-team.js";
import { chainAccess, chainInTeam, CHAIN_ACCESS_RELATIONS, type ChainAccess } from "./chain.relationships.js";
import {
  deleteChainRow,
  findChain,
  insertChain,
  insertChainRun,
  insertChainVersion,
  listChainRuns,
  listChainVersions,
  updateChainDefinition,
  type Chain,
  type ChainRun,
} from "./chain.repository.js";

export const chainRef = (id: string) => ref("chain", id);

const MAX_DEFINITION_BYTES = 256 * 1024;

export const getChain = (ctx: AppContext, id: string): Promise<Chain> => getVisible(ctx, "Chain", chainRef(id), findChain);

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

/** A definition of the chain (its current one or a version) as the caller may read it: secret names nulled without chain#read_secret_names. */
export async function readableDefinition(ctx: AppContext, chainId: string, stored: unknown): Promise<unknown> {
  const definition = stored ?? null;
  // Only definitions that name a secret cost a check.
  if (secretReferences(definition).length === 0 || (await ctx.authz.can(chainRef(chainId), "read_secret_names"))) return definition;
  return withoutSecretNames(definition);
}

async function validDefinition(ctx: AppContext, teamId: string, definition: unknown): Promise<string | null> {
  if (definition === undefined || definition === null) return null;
  const text = JSON.stringify(definition);
  if (Buffer.byteLength(text, "utf8") > MAX_DEFINITION_BYTES) throw badInput(`A chain definition must be at most ${MAX_DEFINITION_BYTES} bytes`);
  const referenced = secretReferences(definition);
  if (referenced.length > 0) {
    const known = new Set(await secretNamesOfTeam(ctx.db, teamId));
    const unknown = referenced.filter((name) => !known.has(name));
    if (unknown.length > 0) throw badInput(`The team has no secret named ${unknown.map((n) => `"${n}"`).join(", ")}`);
  }
  return text;
}

export async function createChain(ctx: AppContext, teamId: string, name: string, definition: unknown): Promise<Chain> {
  const chainName = validName(name, "chain name");
  // Read once the caller may write in the team: secret names are not for everyone to probe.
  let definitionText: string | null = null;
  return writeInTeam(
    ctx,
    teamId,
    "resources_write",
    async ({ tx, relate }) => {
      const chain = await insertChain(tx, { teamId, name: chainName, definition: definitionText, createdBy: actorId(ctx) });
      await insertChainVersion(tx, { chainId: chain.id, definition: definitionText, changedBy: actorId(ctx) });
      await relate({ add: chainInTeam(chain.id, teamId) });
      return chain;
    },
    {
      onConflict: `The team already has a chain named "${chainName}"`,
      guard: async () => {
        definitionText = await validDefinition(ctx, teamId, definition);
      },
    },
  );
}

export async function updateChain(ctx: AppContext, id: string, definition: unknown): Promise<Chain> {
  const chain = await getChain(ctx, id);
  await ctx.authz.require(chainRef(id), "edit");
  const definitionText = await validDefinition(ctx, chain.team_id, definition);
  return writeTransaction(ctx, async (tx) => {
    const updated = await updateChainDefinition(tx, id, definitionText);
    await insertChainVersion(tx, { chainId: id, definition: definitionText, changedBy: actorId(ctx) });
    return updated;
  });
}

export const DEFAULT_RUNS = 50;
export const MAX_RUNS = 200;

/** The chain's latest runs, newest first: `first` of them (default 50, at most 200). For a chain the caller views. */
export function latestRuns(ctx: AppContext, chain: Chain, first: number | null | undefined): Promise<ChainRun[]> {
  const limit = first ?? DEFAULT_RUNS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RUNS) throw badInput(`first must be between 1 and ${MAX_RUNS}`);
  return listChainRuns(ctx.db, chain.id, { limit });
}

const MAX_VERSIONS = 200;

/** Every definition the chain has had, newest first (bounded: a chain edited more often shows its latest 200). For a chain the caller views. */
export const chainVersions = (ctx: AppContext, chain: Chain) => listChainVersions(ctx.db, chain.id, MAX_VERSIONS);

/** Records a run (the platform's workers execute it); who started it is kept. */
export async function runChain(ctx: AppContext, id: string, input: unknown): Promise<ChainRun> {
  await getChain(ctx, id);
  await ctx.authz.require(chainRef(id), "run");
  const inputText = input === undefined || input === null ? null : JSON.stringify(input);
  if (inputText && Buffer.byteLength(inputText, "utf8") > MAX_DEFINITION_BYTES) throw badInput(`A chain input must be at most ${MAX_DEFINITION_BYTES} bytes`);
  return writeTransaction(ctx, (tx) => insertChainRun(tx, { chainId: id, input: inputText, startedBy: actorId(ctx) }));
}

export async function deleteChain(ctx: AppContext, id: string): Promise<boolean> {
  const chain = await getChain(ctx, id);
  await ctx.authz.require(chainRef(id), "delete");
  const team = (await teamById(ctx.db, chain.team_id))!;
  await writeTransaction(ctx, async (tx) => {
    const remove = [...(await findRelationships(tx, { resource: chainRef(id) })), ...chainInTeam(id, team.id)];
    await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove });
    await deleteChainRow(tx, id);
  });
  return true;
}

async function shareTarget(ctx: AppContext, chainId: string, userId: string): Promise<{ chain: Chain; team: Team }> {
  const chain = await getChain(ctx, chainId);
  await ctx.authz.require(chainRef(chainId), "share");
  expectId(userId, "User");
  const team = (await teamById(ctx.db, chain.team_id))!;
  if (!(await orgMembershipOf(ctx.db, team.org_id, userId))) throw badInput("That user is not a member of this organization");
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
