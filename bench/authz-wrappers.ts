import type { AuthzClient } from "../src/authz/client.js";
import { StampedCache } from "../src/authz/stamped-cache.js";

/** A cache that keeps nothing: measures Orgraph with batching but without cross-request caches. */
export class NeverKeeps<V> extends StampedCache<V> {
  constructor() {
    super(0);
  }
  override set(): void {}
}

/**
 * Comparison clients, used only by the benchmark (no configuration can select them):
 * - ceiling: every check is allowed without asking SpiceDB: the cost of everything but authorization;
 * - naive: every question is its own SpiceDB call, one after another, as a resolver that
 *   calls CheckPermission per gated object would do.
 */
export function allowAll(client: AuthzClient): AuthzClient {
  return {
    writeSchema: (schema) => client.writeSchema(schema),
    write: (updates) => client.write(updates),
    checkBulk: async (items) => items.map(() => true),
    checkWithTrace: (item, consistency, context) => client.checkWithTrace(item, consistency, context),
    lookupResources: (type, permission, subject, consistency, context) => client.lookupResources(type, permission, subject, consistency, context),
    readRelationships: (type) => client.readRelationships(type),
    close: () => client.close(),
  };
}

export function oneCheckPerQuestion(client: AuthzClient): AuthzClient {
  return {
    writeSchema: (schema) => client.writeSchema(schema),
    write: (updates) => client.write(updates),
    checkBulk: async (items, consistency) => {
      const answers: boolean[] = [];
      for (const item of items) answers.push(...(await client.checkBulk([item], consistency)));
      return answers;
    },
    checkWithTrace: (item, consistency, context) => client.checkWithTrace(item, consistency, context),
    lookupResources: (type, permission, subject, consistency, context) => client.lookupResources(type, permission, subject, consistency, context),
    readRelationships: (type) => client.readRelationships(type),
    close: () => client.close(),
  };
}
