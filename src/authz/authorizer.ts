import DataLoader from "dataloader";
import { authzUnavailable, forbidden, ipNotAllowed, notFound } from "../errors.js";
import type { Logger } from "../logger.js";
import type { TracedCheck } from "./check-trace.js";
import type { AuthzClient } from "./client.js";
import { checkKey, type CheckContext, type CheckItem, type ObjectRef } from "./model.js";
import type { ConsistencyTracker, Snapshot } from "./consistency.js";
import type { StampedCache } from "./stamped-cache.js";

/** What an Authorizer needs of the process (a subset of AppDeps). */
export interface AuthorizerDeps {
  authzClient: AuthzClient;
  consistency: ConsistencyTracker;
  /** Answers of earlier requests, valid while the stamp is unchanged (stamped-cache.ts). */
  caches: { checks: StampedCache<boolean> };
  logger: Logger;
}

/** The object types whose schema.zed definition has `ip_refused` (IP_NOT_ALLOWED instead of NOT_FOUND). */
const IP_REFUSABLE = new Set(["organization", "team", "model", "environment", "chain", "training_project", "service_account", "api_key", "user"]);

/** Told of every IP_NOT_ALLOWED answer, to record it (ip-refusals in the security log). */
export type IpRefusalListener = (resource: ObjectRef) => Promise<void>;

/**
 * The snapshot of one request, read once when first needed (one Postgres read with a remote
 * SpiceDB, none embedded) and shared by everything the request does: authentication, checks,
 * lookups. Re-read after the request's own write, so that its payload sees that write.
 */
export class RequestSnapshot {
  private snapshot: Promise<Snapshot> | undefined;

  constructor(private readonly consistency: ConsistencyTracker) {}

  get(): Promise<Snapshot> {
    return (this.snapshot ??= this.consistency.forRequest());
  }

  reset(): void {
    this.snapshot = undefined;
  }
}

/**
 * One per request: every permission question asked while resolving it — by scopes,
 * services or list filters — goes through one DataLoader, so the questions of one tick
 * travel to SpiceDB as a single CheckBulkPermissions and a repeated question is asked once;
 * questions an earlier request answered under the same stamp are not asked again. Reads use
 * a snapshot at least as fresh as the last acknowledged write (no stale allow after an
 * acknowledged revocation; see stamped-cache.ts for why the cache keeps that promise).
 *
 * When SpiceDB cannot answer, every question fails with AUTHZ_UNAVAILABLE: never a silent
 * allow, never a silent deny that would read as "not found".
 *
 * Every question carries the caller's address (`context.clientIp`) for the IP allowlists'
 * caveat (spicedb/schema.zed); without one, an allowlist answers CONDITIONAL, which is a denial.
 */
export class Authorizer {
  private readonly checks: DataLoader<CheckItem, boolean, string>;

  constructor(
    readonly deps: AuthorizerDeps,
    /** The SpiceDB subject the caller acts as; undefined when unauthenticated. */
    readonly subject: ObjectRef | undefined,
    readonly snapshot: RequestSnapshot = new RequestSnapshot(deps.consistency),
    /** The request's caveat context: the caller's address (canonical), when known. */
    readonly context: CheckContext = {},
    private readonly onIpRefused?: IpRefusalListener,
  ) {
    this.checks = new DataLoader((items) => this.checkBulk(items), { cacheKeyFn: checkKey, maxBatchSize: 1000 });
  }

  /** Does the caller hold `permission` on `resource`? */
  can(resource: ObjectRef, permission: string): Promise<boolean> {
    if (!this.subject) return Promise.resolve(false);
    return this.checks.load({ resource, permission, subject: this.subject, ...(this.context.clientIp ? { context: this.context } : {}) });
  }

  /** The same caller, asking from `context` (the gateway names the end client's address). */
  withContext(context: CheckContext, onIpRefused = this.onIpRefused): Authorizer {
    return new Authorizer(this.deps, this.subject, this.snapshot, context, onIpRefused);
  }

  /** Another subject, asking from the same address (no-escalation.ts compares what each holds). */
  asSubject(subject: ObjectRef | undefined): Authorizer {
    return new Authorizer(this.deps, subject, this.snapshot, this.context, this.onIpRefused);
  }

  /**
   * Does `subject` hold `permission` on `resource`? For explaining a principal's answer only,
   * once the caller has been authorized to ask (explainPermission).
   */
  canAs(subject: ObjectRef, resource: ObjectRef, permission: string): Promise<boolean> {
    // The request's address is the caller's own: another subject is asked about with none.
    const own = this.context.clientIp && subject.type === this.subject?.type && subject.id === this.subject.id;
    return this.checks.load({ resource, permission, subject, ...(own ? { context: this.context } : {}) });
  }

  /**
   * Throws NOT_FOUND when the caller may not view `resource` (its existence is not revealed),
   * FORBIDDEN when they may view it but not do `permission`. Both questions share one batch.
   * IP_NOT_ALLOWED instead of NOT_FOUND when an IP allowlist refuses the caller's address and
   * they would view the object from an allowed one (see hiddenBy).
   */
  async require(resource: ObjectRef, permission: string, viewPermission = "view"): Promise<void> {
    const [visible, allowed] = await Promise.all([this.can(resource, viewPermission), this.can(resource, permission)]);
    if (!visible) throw await this.hiddenBy(resource);
    if (!allowed) throw forbidden(`You are not allowed to ${permission.replace(/_/g, " ")} on this ${resource.type}`);
  }

  /** NOT_FOUND unless the caller may view `resource` (IP_NOT_ALLOWED as in require). */
  async requireVisible(resource: ObjectRef, viewPermission = "view"): Promise<void> {
    if (!(await this.can(resource, viewPermission))) throw await this.hiddenBy(resource);
  }

  /**
   * Why an object is hidden: `ip_refused` holds only for a caller who would view it from an
   * allowed address (schema.zed), so IP_NOT_ALLOWED tells nothing about objects they could
   * never see; everything else is NOT_FOUND. Asked on every denial, so the two take one path.
   */
  private async hiddenBy(resource: ObjectRef) {
    if (!IP_REFUSABLE.has(resource.type) || !(await this.can(resource, "ip_refused"))) return notFound(`${resource.type} not found`);
    await this.onIpRefused?.(resource);
    return ipNotAllowed();
  }

  /** Keeps the items the caller holds `permission` on, in order. */
  async filter<T>(items: T[], toRef: (item: T) => ObjectRef, permission: string): Promise<T[]> {
    const allowed = await Promise.all(items.map((item) => this.can(toRef(item), permission)));
    return items.filter((_, i) => allowed[i]);
  }

  /** Every id of `resourceType` the caller holds `permission` on. */
  async lookup(resourceType: string, permission: string): Promise<string[]> {
    if (!this.subject) return [];
    try {
      const { consistency } = await this.snapshot.get();
      return await this.deps.authzClient.lookupResources(resourceType, permission, this.subject, consistency, this.context);
    } catch (error) {
      this.deps.logger.error({ err: error }, "SpiceDB LookupResources failed");
      throw authzUnavailable();
    }
  }

  /**
   * One check with SpiceDB's resolution trace, for explaining an answer (explainPermission):
   * at this request's snapshot, never cached. `context` is the caveat context to check with.
   */
  async trace(item: CheckItem, context?: Record<string, unknown>): Promise<TracedCheck> {
    try {
      const { consistency } = await this.snapshot.get();
      return await this.deps.authzClient.checkWithTrace(item, consistency, context);
    } catch (error) {
      this.deps.logger.error({ err: error }, "SpiceDB CheckPermission (traced) failed");
      throw authzUnavailable();
    }
  }

  /**
   * After this request's own write: later questions (the mutation's payload) must see it, so
   * cached answers and the chosen snapshot are dropped.
   */
  afterWrite(): void {
    this.checks.clearAll();
    this.snapshot.reset();
  }

  /** Answers from the cache where it has them; the rest in one CheckBulkPermissions. */
  private async checkBulk(items: readonly CheckItem[]): Promise<boolean[]> {
    try {
      const { consistency, stamp } = await this.snapshot.get();
      const cache = this.deps.caches.checks;
      const keys = items.map(checkKey);
      const answers = keys.map((key) => cache.get(stamp, key));
      const unknown = items.filter((_, i) => answers[i] === undefined);
      if (unknown.length === 0) return answers as boolean[];
      const fresh = await this.deps.authzClient.checkBulk(unknown, consistency);
      keys.filter((_, i) => answers[i] === undefined).forEach((key, i) => cache.set(stamp, key, fresh[i]!));
      let next = 0;
      return answers.map((answer) => answer ?? fresh[next++]!);
    } catch (error) {
      this.deps.logger.error({ err: error }, "SpiceDB CheckBulkPermissions failed");
      throw authzUnavailable();
    }
  }
}
