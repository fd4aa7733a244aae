import type { AppContext } from "./context.js";
import type { Tx } from "./db/database.js";
import { authzUnavailable, conflict } from "./errors.js";
import { completeDraft, recordAudit } from "./modules/audit/audit.js";

/**
 * Runs a mutation's change in one Postgres transaction (domain rows, relationship record,
 * outbox, and its audit event), then applies the queued relationships to SpiceDB before
 * returning, so that what the caller is told is what SpiceDB enforces on their next request.
 *
 * `onConflict` names what already exists when a unique constraint refuses the change.
 * `relationshipFree`: the change queued no relationship (a key's rotation), so what the caller
 * is told does not wait for SpiceDB: a failing flush (of other changes' rows) is logged and
 * left to the background flush, and the committed answer is returned, never lost.
 */
export async function writeTransaction<T>(
  ctx: AppContext,
  work: (tx: Tx) => Promise<T>,
  options: { onConflict?: string; relationshipFree?: boolean } = {},
): Promise<T> {
  let result: T;
  try {
    result = await ctx.db.transaction().execute(async (tx) => {
      const changed = await work(tx);
      await completeDraft(tx, ctx, changed);
      await recordAudit(tx, ctx, "SUCCESS");
      await ctx.deps.consistency.changing(tx);
      return changed;
    });
  } catch (error) {
    // The event written in the transaction was rolled back with it: the failure is recorded
    // instead (auditedResolver), and a security-log row that never committed needs no trim.
    if (ctx.audit) Object.assign(ctx.audit, { written: false, securitySource: undefined });
    if (isUniqueViolation(error)) throw conflict(options.onConflict ?? "That already exists");
    throw error;
  }
  // Committed: answers cached before this change (a key read before its revocation, say) are
  // not served to any request that starts from now on.
  ctx.deps.consistency.changed();
  try {
    await ctx.deps.outbox.flush();
    ctx.authz.afterWrite();
  } catch (error) {
    ctx.logger.error({ err: error }, "change committed but not yet applied to SpiceDB; the background flush will apply it");
    if (options.relationshipFree) {
      ctx.authz.afterWrite();
      return result;
    }
    throw authzUnavailable();
  }
  return result;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "23505";
}
