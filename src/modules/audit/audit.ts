import type { GraphQLFieldResolver } from "graphql";
import { credentialOf } from "../../auth/principal.js";
import type { AppContext, AppDeps, AuditDraft } from "../../context.js";
import type { Principal } from "../../auth/principal.js";
import type { AuditResult, Tx } from "../../db/database.js";
import { errorCode } from "../../errors.js";
import { typeOfId } from "../../ids.js";
import { appendAuditEvent, isOrgMember, locateOwner } from "./audit.repository.js";
import { capDiff, capString } from "./cap.js";
import { insertSecurityEvent, trimSecurityLog } from "./security-log.repository.js";

/** For services: name what the running mutation changed (before/after, its target, its organization). */
export function describeAudit(ctx: AppContext, details: Pick<AuditDraft, "orgId" | "teamId" | "targetId" | "diff">): void {
  if (ctx.audit) Object.assign(ctx.audit, details, { explicit: true });
}

const REDACTED_KEYS = new Set(["value", "token", "secret"]);

/** Arguments as recorded: secret values and tokens never appear, only that they were given. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, REDACTED_KEYS.has(k) ? "[redacted]" : redact(v)]));
  }
  return value;
}

/** The ids among the arguments, most specific first (`id` names the target). */
function argumentIds(args: Record<string, unknown>): string[] {
  const input = (args.input ?? {}) as Record<string, unknown>;
  return [args.id, args.chainId, args.environmentId, args.roleId, args.teamId, args.organizationId, args.scopeId, input.serviceAccountId, input.teamId, input.organizationId]
    .filter((v): v is string => typeof v === "string" && typeOfId(v) !== undefined);
}

/**
 * Writes the draft as an event of `result`, in `tx`: into its organization's hash chain when
 * the caller is a member of that organization (before or after the change, as Postgres says),
 * else into the bounded security log. Recorded input and errors are capped (cap.ts).
 */
export async function recordAudit(tx: Tx, ctx: AppContext, result: AuditResult, error: string | null = null): Promise<void> {
  const draft = ctx.audit;
  if (!draft || draft.written) return;
  const principal = ctx.principal;
  const who = {
    actorId: principal?.id ?? null,
    authMethod: principal?.via.method ?? null,
    authRef: principal ? credentialOf(principal) : null,
    action: draft.action,
    teamId: draft.teamId ?? null,
    targetId: draft.targetId ?? null,
    result,
    error: capString(error),
    diff: capDiff(draft.diff) ?? null,
    requestId: ctx.requestId,
  };
  const orgId = draft.orgId;
  if (orgId && (orgId === draft.memberAtStart || (await isOrgMember(tx, principal, orgId)))) {
    await appendAuditEvent(tx, { ...who, orgId });
  } else {
    const source = principal ? `principal:${principal.kind}:${principal.id}` : `addr:${ctx.clientAddress ?? UNKNOWN_ADDRESS}`;
    await insertSecurityEvent(tx, { ...who, source, clientAddress: ctx.clientAddress ?? null, claimedOrgId: orgId ?? null });
    draft.securitySource = source;
  }
  draft.written = true;
}

/** The client address of requests that did not come through the Node listener (yoga.fetch in tests): one shared source. */
export const UNKNOWN_ADDRESS = "unknown";

/**
 * After the change: unless the service named it, the target is what the mutation returned
 * (the created object, or a key or service account of a payload), and the organization and
 * team are the target's.
 */
export async function completeDraft(tx: Tx, ctx: AppContext, result: unknown): Promise<void> {
  const draft = ctx.audit;
  if (!draft) return;
  if (!draft.explicit) {
    const payload = result as Record<string, unknown> | null;
    const row = (payload?.serviceAccount ?? payload?.apiKey ?? payload?.invitation ?? payload) as Record<string, unknown> | null;
    if (typeof row?.id === "string") draft.targetId = row.id;
  }
  if (!draft.orgId && draft.targetId) {
    const owner = await locateOwner(tx, draft.targetId);
    draft.orgId = owner.orgId;
    draft.teamId ??= owner.teamId;
  }
}

const DENIED_CODES = new Set(["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "IP_NOT_ALLOWED"]);

/**
 * Wraps one Mutation field's resolver (graphql/audit-plugin.ts applies it to every mutation,
 * with the action the mutation declares): starts its audit draft, and when the mutation fails
 * before its change was written, records the attempt (DENIED or ERROR) in a transaction of its
 * own. The organization named by the input is only a candidate: recordAudit chains the event
 * into it only for a member of it. A successful mutation's event is written in its change's
 * transaction (writeTransaction), or here: if that write fails, the mutation fails.
 */
export function auditedResolver(action: string, resolve: GraphQLFieldResolver<unknown, AppContext, Record<string, unknown>>): GraphQLFieldResolver<unknown, AppContext, Record<string, unknown>> {
  return async (source, args, ctx, info) => {
    const ids = argumentIds(args);
    const draft: AuditDraft = { action, targetId: ids[0], diff: { input: redact(args) } };
    ctx.audit = draft;
    // Where the mutation acts, read before it runs: a deletion removes what would tell.
    for (const id of ids) {
      Object.assign(draft, await locateOwner(ctx.db, id).catch(() => ({})));
      if (draft.orgId) break;
    }
    if (draft.orgId && (await isOrgMember(ctx.db, ctx.principal, draft.orgId))) draft.memberAtStart = draft.orgId;
    try {
      const result: unknown = await resolve(source, args, ctx, info);
      if (!ctx.audit.written) await ctx.db.transaction().execute((tx) => recordAudit(tx, ctx, "SUCCESS"));
      return result;
    } catch (error) {
      if (!ctx.audit.written) {
        const code = errorCode(error);
        const message = code ? (error as Error).message : "Unexpected error";
        await ctx.db
          .transaction()
          .execute((tx) => recordAudit(tx, ctx, code && DENIED_CODES.has(code) ? "DENIED" : "ERROR", message))
          .catch((auditError: unknown) => ctx.logger.error({ err: auditError }, "could not record a failed mutation in the audit log"));
      }
      throw error;
    } finally {
      const securitySource = draft.securitySource;
      // The event is written; a failed trim only leaves the log over its bound until the next one.
      if (securitySource) {
        await trimSecurityLog(ctx.db, securitySource, ctx.deps.config.securityLog).catch((trimError: unknown) =>
          ctx.logger.error({ err: trimError }, "could not trim the security log"),
        );
      }
    }
  };
}

/**
 * An IP allowlist refused a caller (issue 14): recorded in the bounded security log (never the
 * organization's hash chain, which an outsider could otherwise fill), under a source of its own
 * per principal. A flood of refused requests keeps only that source's newest
 * SECURITY_LOG_MAX_PER_SOURCE rows and never pushes out another source's; the drops are counted.
 * A failure to record is logged, never turned into another answer.
 */
export async function recordIpRefusal(
  deps: AppDeps,
  refusal: { principal: Principal; clientIp: string | undefined; resource: { type: string; id: string }; requestId: string | null; via: string },
): Promise<void> {
  const { principal, resource } = refusal;
  const source = `ip_refused:${principal.kind}:${principal.id}`;
  try {
    await deps.db.transaction().execute((tx) =>
      insertSecurityEvent(tx, {
        source,
        clientAddress: refusal.clientIp ?? null,
        actorId: principal.id,
        authMethod: principal.via.method,
        authRef: credentialOf(principal),
        action: "ip_allowlist.refused",
        claimedOrgId: null,
        teamId: resource.type === "team" ? resource.id : null,
        targetId: resource.id,
        result: "DENIED",
        error: "IP_NOT_ALLOWED",
        diff: capDiff({ resource: `${resource.type}:${resource.id}`, clientIp: refusal.clientIp ?? null, via: refusal.via }),
        requestId: refusal.requestId,
      }),
    );
    await trimSecurityLog(deps.db, source, deps.config.securityLog);
  } catch (error) {
    deps.logger.error({ err: error }, "could not record an IP allowlist refusal in the security log");
  }
}

/**
 * A change an organization's identity provider made (an SSO sign-in's reconciliation, issue 16
 * §1), chained into that organization's log: no principal acted, so the actor is empty, the
 * method is `sso` and the credential is the connection's issuer.
 */
export async function recordIdpChange(
  tx: Tx,
  event: { orgId: string; issuer: string; action: string; teamId: string | null; targetId: string; diff: unknown; requestId: string | null },
): Promise<void> {
  await appendAuditEvent(tx, {
    orgId: event.orgId,
    teamId: event.teamId,
    actorId: null,
    authMethod: "sso",
    authRef: capString(event.issuer),
    action: event.action,
    targetId: event.targetId,
    result: "SUCCESS",
    error: null,
    diff: capDiff(event.diff) ?? null,
    requestId: event.requestId,
  });
}
