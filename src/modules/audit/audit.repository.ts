import { createHash } from "node:crypto";
import { sql } from "kysely";
import type { AuditResult, Db, Row, Tx } from "../../db/database.js";
import { newId, typeOfId } from "../../ids.js";

export type AuditEvent = Row<"audit_events">;

export interface NewAuditEvent {
  /** Only a member's events are chained into an organization; the rest go to security_events. */
  orgId: string;
  teamId: string | null;
  actorId: string | null;
  authMethod: string | null;
  authRef: string | null;
  action: string;
  targetId: string | null;
  result: AuditResult;
  error: string | null;
  diff: unknown;
  requestId: string | null;
}

const GENESIS = "0".repeat(64);

/**
 * The hash of an event covers its predecessor's hash and every field of its own, so changing,
 * removing or reordering any event breaks every hash after it.
 */
export function eventHash(prevHash: string, event: Omit<AuditEvent, "hash" | "prev_hash" | "seq"> & { seq: string | number }): string {
  const fields = [
    event.id, event.chain, String(event.seq), event.org_id, event.team_id, new Date(event.at).toISOString(), event.actor_id,
    event.auth_method, event.auth_ref, event.action, event.target_id, event.result, event.error, canonical(event.diff), event.request_id,
  ];
  return createHash("sha256").update(prevHash).update("\n").update(JSON.stringify(fields)).digest("hex");
}

/** JSON with sorted keys, so the same diff always hashes the same (jsonb reorders keys). */
function canonical(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sort(x)])) : v;
  return JSON.stringify(sort(value));
}

/** Appends to the organization's chain, serialized per chain by an advisory lock held to commit. */
export async function appendAuditEvent(tx: Tx, event: NewAuditEvent): Promise<void> {
  const chain = event.orgId;
  await sql`select pg_advisory_xact_lock(hashtext(${`audit:${chain}`}))`.execute(tx);
  const last = await tx.selectFrom("audit_events").select(["seq", "hash"]).where("chain", "=", chain).orderBy("seq", "desc").limit(1).executeTakeFirst();
  const row = {
    id: newId("AuditEvent"),
    chain,
    seq: last ? Number(last.seq) + 1 : 1,
    org_id: event.orgId,
    team_id: event.teamId,
    at: new Date(),
    actor_id: event.actorId,
    auth_method: event.authMethod,
    auth_ref: event.authRef,
    action: event.action,
    target_id: event.targetId,
    result: event.result,
    error: event.error,
    diff: event.diff ?? null,
    request_id: event.requestId,
  };
  const prevHash = last?.hash ?? GENESIS;
  await tx
    .insertInto("audit_events")
    .values({ ...row, diff: row.diff === null ? null : JSON.stringify(row.diff), prev_hash: prevHash, hash: eventHash(prevHash, row) })
    .execute();
}

/** Walks the organization's chain in order, page by page; names the first event that does not verify. */
export async function verifyChain(db: Db, orgId: string): Promise<{ ok: boolean; checked: number; firstBrokenId: string | null }> {
  let prevHash = GENESIS;
  let expectedSeq = 1;
  let checked = 0;
  for (;;) {
    const page = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("chain", "=", orgId)
      .where("seq", ">=", String(expectedSeq) as never)
      .orderBy("seq")
      .limit(1000)
      .execute();
    for (const event of page) {
      const { hash, prev_hash, ...fields } = event;
      if (Number(event.seq) !== expectedSeq || prev_hash !== prevHash || eventHash(prevHash, fields) !== hash) {
        return { ok: false, checked, firstBrokenId: event.id };
      }
      prevHash = hash;
      expectedSeq++;
      checked++;
    }
    if (page.length < 1000) return { ok: true, checked, firstBrokenId: null };
  }
}

export const findAuditEvent = (db: Db, id: string) => db.selectFrom("audit_events").selectAll().where("id", "=", id).executeTakeFirst();

/** A page of the organization's chain in order: events after sequence number `afterSeq`, at or after `since`. */
export function listChainPage(db: Db, orgId: string, options: { afterSeq: number; since?: Date; limit: number }) {
  let query = db.selectFrom("audit_events").selectAll().where("chain", "=", orgId).where("seq", ">", String(options.afterSeq) as never);
  if (options.since) query = query.where("at", ">=", options.since);
  return query.orderBy("seq").limit(options.limit).execute();
}

export interface AuditFilter {
  orgId?: string;
  teamId?: string;
  action?: string | null;
  actorId?: string | null;
  result?: AuditResult | null;
  from?: Date | null;
  to?: Date | null;
}

/** Newest first, before the `after` cursor (event ids sort by time). */
export function listAuditEvents(db: Db, filter: AuditFilter, options: { after?: string; limit: number }) {
  let query = db.selectFrom("audit_events").selectAll();
  if (filter.orgId) query = query.where("org_id", "=", filter.orgId);
  if (filter.teamId) query = query.where("team_id", "=", filter.teamId);
  if (filter.action) query = query.where("action", "=", filter.action);
  if (filter.actorId) query = query.where("actor_id", "=", filter.actorId);
  if (filter.result) query = query.where("result", "=", filter.result);
  if (filter.from) query = query.where("at", ">=", filter.from);
  if (filter.to) query = query.where("at", "<", filter.to);
  if (options.after) query = query.where("id", "<", options.after);
  return query.orderBy("id", "desc").limit(options.limit).execute();
}

/**
 * Whether the caller belongs to the organization, from the stored memberships (never from
 * the request's input): a user through its membership, a service account or team key through
 * its team.
 */
export async function isOrgMember(db: Db | Tx, principal: { kind: string; id: string; teamId?: string } | undefined, orgId: string): Promise<boolean> {
  if (!principal) return false;
  if (principal.kind === "USER") {
    return Boolean(await db.selectFrom("org_memberships").select("user_id").where("org_id", "=", orgId).where("user_id", "=", principal.id).executeTakeFirst());
  }
  if (!principal.teamId) return false;
  return Boolean(await db.selectFrom("teams").select("id").where("id", "=", principal.teamId).where("org_id", "=", orgId).executeTakeFirst());
}

/**
 * The organization and team an id belongs to (best effort: what a denied attempt touched).
 *
 * The one place that reads other modules' tables (teams, environments, models, chains,
 * service accounts, keys, training projects, deployments, chain runs, roles, invitations):
 * an audit event must be located for any object type, a denied attempt's included, before
 * the mutation runs (a deletion removes what would tell), and without a round trip through
 * each module's service for every mutation.
 */
export async function locateOwner(db: Db | Tx, id: string): Promise<{ orgId?: string; teamId?: string }> {
  const type = typeOfId(id);
  const teamOwner = async (teamId: string | null | undefined) => {
    if (!teamId) return {};
    const team = await db.selectFrom("teams").select("org_id").where("id", "=", teamId).executeTakeFirst();
    return team ? { orgId: team.org_id, teamId } : {};
  };
  const teamOf = async (table: "environments" | "models" | "chains" | "service_accounts" | "api_keys" | "training_projects" | "access_requests") =>
    teamOwner((await db.selectFrom(table).select("team_id").where("id", "=", id).executeTakeFirst())?.team_id);
  const via = async (table: "deployments" | "chain_runs", column: "model_id" | "chain_id") => {
    const row = (await db.selectFrom(table).select(column as never).where("id", "=", id).executeTakeFirst()) as Record<string, string> | undefined;
    return row ? locateOwner(db, row[column]!) : {};
  };
  switch (type) {
    case "Organization":
      return { orgId: id };
    case "Team":
      return teamOwner(id);
    case "Environment":
      return teamOf("environments");
    case "Model":
      return teamOf("models");
    case "Chain":
      return teamOf("chains");
    case "ServiceAccount":
      return teamOf("service_accounts");
    case "ApiKey":
      return teamOf("api_keys");
    case "TrainingProject":
      return teamOf("training_projects");
    case "AccessRequest":
      return teamOf("access_requests");
    case "Deployment":
      return via("deployments", "model_id");
    case "ChainRun":
      return via("chain_runs", "chain_id");
    case "Role":
      return { orgId: (await db.selectFrom("roles").select("org_id").where("id", "=", id).executeTakeFirst())?.org_id };
    case "Invitation":
      return { orgId: (await db.selectFrom("invitations").select("org_id").where("id", "=", id).executeTakeFirst())?.org_id };
    default:
      return {};
  }
}
