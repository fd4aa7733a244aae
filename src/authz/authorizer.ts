import DataLoader from "dataloader";
import { authzUnavailable, forbidden, notFound } from "../errors.js";
import type { Logger } from "../logger.js";
import type { AuthzClient, Consistency } from "./client.js";
import { checkKey, type CheckItem, type ObjectRef } from "./model.js";
import type { ConsistencyTracker } from "./relationships.js";

/**
 * One per request: every permission question asked while resolving it — by scopes,
 * services or list filters — goes through one DataLoader, so the questions of one tick
 * travel to SpiceDB as a single CheckBulkPermissions and a repeated question is asked once.
 * Reads use a snapshot at least as fresh as this process's last write (no stale allow after
 * an acknowledged revocation).
 *
 * When SpiceDB cannot answer, every question fails with AUTHZ_UNAVAILABLE: never a silent
 * allow, never a silent deny that would read as "not found".
 */
export class Authorizer {
  private readonly checks: DataLoader<CheckItem, boolean, string>;
  private snapshot: Promise<Consistency> | undefined;

  constructor(
    private readonly client: AuthzClient,
    private readonly consistency: ConsistencyTracker,
    /** The SpiceDB subject the caller acts as; undefined when unauthenticated. */
    readonly subject: ObjectRef | undefined,
    private readonly logger: Logger,
  ) {
    this.checks = new DataLoader((items) => this.checkBulk(items), { cacheKeyFn: checkKey, maxBatchSize: 1000 });
  }

  /** Does the caller hold `permission` on `resource`? */
  can(resource: ObjectRef, permission: string): Promise<boolean> {
    if (!this.subject) return Promise.resolve(false);
    return this.checks.load({ resource, permission, subject: this.subject });
  }

  /**
   * Throws NOT_FOUND when the caller may not view `resource` (its existence is not revealed),
   * FORBIDDEN when they may view it but not do `permission`. Both questions share one batch.
   */
  async require(resource: ObjectRef, permission: string, viewPermission = "view"): Promise<void> {
    const [visible, allowed] = await Promise.all([this.can(resource, viewPermission), this.can(resource, permission)]);
    if (!visible) throw notFound(`${resource.type} not found`);
    if (!allowed) throw forbidden(`You are not allowed to ${permission.replace(/_/g, " ")} on this ${resource.type}`);
  }

  /** NOT_FOUND unless the caller may view `resource`. */
  async requireVisible(resource: ObjectRef, viewPermission = "view"): Promise<void> {
    if (!(await this.can(resource, viewPermission))) throw notFound(`${resource.type} not found`);
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
      return await this.client.lookupResources(resourceType, permission, this.subject, await this.requestSnapshot());
    } catch (error) {
      this.logger.error({ err: error }, "SpiceDB LookupResources failed");
      throw authzUnavailable();
    }
  }

  /**
   * After this request's own write: later questions (the mutation's payload) must see it, so
   * cached answers and the chosen snapshot are dropped.
   */
  afterWrite(): void {
    this.checks.clearAll();
    this.snapshot = undefined;
  }

  /** Chosen once per request (until its own write): one read of the shared token at most. */
  private requestSnapshot(): Promise<Consistency> {
    return (this.snapshot ??= this.consistency.forRequest());
  }

  private async checkBulk(items: readonly CheckItem[]): Promise<boolean[]> {
    try {
      return await this.client.checkBulk([...items], await this.requestSnapshot());
    } catch (error) {
      this.logger.error({ err: error }, "SpiceDB CheckBulkPermissions failed");
      throw authzUnavailable();
    }
  }
}
