import { writeRelationships } from "../../authz/relationship-writes.js";
import { actorId } from "../../auth/caller.js";
import type { AppContext } from "../../context.js";
import type { Db } from "../../db/database.js";
import { badInput } from "../../errors.js";
import { expectId } from "../../ids.js";
import { addressInCidrs, canonicalCidr } from "../../ip-address.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { orgRef } from "../organization/organization.service.js";
import { getBrowsableTeam, teamById, teamRef } from "../team/team.service.js";
import { scopeIpAllowed } from "./ip-allowlist.relationships.js";
import { findIpAllowlist, insertMissingIpAllowed, saveIpAllowlist } from "./ip-allowlist.repository.js";

export const MAX_IP_ALLOWLIST_ENTRIES = 100;

/**
 * Sets the IP allowlist of an organization (org:manage: org ADMINs) or a team (team#manage: its
 * built-in ADMINs, org ADMINs included); an empty list lifts the restriction. The list is
 * enforced by SpiceDB (spicedb/schema.zed `ip_allowed`), on every permission in the scope. A
 * list that would exclude the caller's own address is refused: it would lock them out.
 */
export async function setIpAllowlist(ctx: AppContext, scopeId: string, entries: string[]): Promise<string[]> {
  const kind = expectId(scopeId, "Organization", "Team");
  // Authorized first: a stranger learns nothing from the shape of its input. Both answer an
  // invisible scope exactly as a nonexistent one (NOT_FOUND).
  let scope: { type: "organization" | "team"; id: string; orgId: string; teamId: string | null };
  if (kind === "Organization") {
    await ctx.authz.require(orgRef(scopeId), "manage", "browse");
    scope = { type: "organization", id: scopeId, orgId: scopeId, teamId: null };
  } else {
    scope = { type: "team", id: scopeId, orgId: (await teamForList(ctx, scopeId)).org_id, teamId: scopeId };
  }
  const cidrs = validCidrs(entries);
  const address = ctx.authz.context.clientIp;
  if (cidrs.length > 0 && !(address && addressInCidrs(address, cidrs))) {
    throw badInput(
      address
        ? `"cidrs" does not include your own address (${address}): it would lock you out. Add it, or set the list from an address inside it`
        : '"cidrs" cannot be checked against your own address (it is unknown): setting it could lock you out',
    );
  }
  const before = await findIpAllowlist(ctx.db, scopeId);
  describeAudit(ctx, { orgId: scope.orgId, ...(scope.teamId ? { teamId: scope.teamId } : {}), targetId: scopeId, diff: { cidrs: { before, after: cidrs } } });
  await writeTransaction(ctx, async (tx) => {
    await saveIpAllowlist(tx, scope, cidrs, actorId(ctx));
    await writeRelationships(tx, { orgId: scope.orgId, ...(scope.teamId ? { teamId: scope.teamId } : {}) }, { add: scopeIpAllowed(scope, cidrs) });
  });
  return cidrs;
}

/**
 * The team whose list is set: its built-in ADMINs' (team#manage, which the team's own list
 * gates), or any org ADMIN's from an address the organization's list admits (org:manage): org
 * ADMINs hold team ADMIN everywhere, so a team ADMIN's list cannot lock them out of lifting it.
 * The org question is asked whether or not the id exists, so both take one path.
 */
async function teamForList(ctx: AppContext, teamId: string): Promise<{ org_id: string }> {
  const row = await teamById(ctx.db, teamId);
  if (await ctx.authz.can(orgRef(row?.org_id ?? "none"), "manage")) return row!;
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "manage", "browse");
  return team;
}

/** Canonical (ip-address.ts), deduplicated in the order given; BAD_USER_INPUT names the first bad entry. */
function validCidrs(entries: string[]): string[] {
  if (entries.length > MAX_IP_ALLOWLIST_ENTRIES) throw badInput(`"cidrs" may hold at most ${MAX_IP_ALLOWLIST_ENTRIES} entries, got ${entries.length}`);
  const cidrs = entries.map((entry, i) => {
    const cidr = canonicalCidr(entry);
    if (!cidr) throw badInput(`"cidrs[${i}]" is not an IPv4 or IPv6 address or CIDR: "${entry.slice(0, 64)}"`);
    return cidr;
  });
  return [...new Set(cidrs)];
}

/** The list as stored (empty: no restriction); the caller has authorized reading it. */
export const ipAllowlistOf = (db: Db, scopeId: string): Promise<string[]> => findIpAllowlist(db, scopeId);

/** At start (orgraph.ts), before the outbox is flushed: every organization and team admits addresses through its wildcards. */
export const admitScopesWithoutWildcards = (db: Db): Promise<number> => insertMissingIpAllowed(db);
