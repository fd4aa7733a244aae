import type { AuthzClient, Consistency, RelationshipUpdate } from "../authz/client.js";
import type { CheckContext, CheckItem, ObjectRef } from "../authz/model.js";
import { inClientSpan } from "./spans.js";

/**
 * A span per SpiceDB call, with how many items it asked and answered. The span is made here,
 * on the calling side: the embedded SpiceDB answers in a worker thread, where the request's
 * context does not exist. Object ids, subjects and tokens are never recorded; resource types
 * and permissions (names from the schema) are.
 */
export function traceAuthzClient(client: AuthzClient): AuthzClient {
  return {
    writeSchema: (schema: string) => inClientSpan("SpiceDB WriteSchema", {}, () => client.writeSchema(schema)),
    write: (updates: RelationshipUpdate[]) =>
      inClientSpan("SpiceDB WriteRelationships", { "spicedb.items": updates.length }, () => client.write(updates)),
    checkBulk: (items: CheckItem[], consistency: Consistency) => {
      // An empty check asks SpiceDB nothing (client.ts): no span.
      if (items.length === 0) return client.checkBulk(items, consistency);
      const attributes = { "spicedb.items": items.length, "spicedb.consistency": consistency.kind };
      return inClientSpan("SpiceDB CheckBulkPermissions", attributes, async (span) => {
        const answers = await client.checkBulk(items, consistency);
        span.setAttribute("spicedb.allowed", answers.filter(Boolean).length);
        return answers;
      });
    },
    checkWithTrace: (item: CheckItem, consistency: Consistency, context?: Record<string, unknown>) => {
      const attributes = { "spicedb.resource_type": item.resource.type, "spicedb.permission": item.permission, "spicedb.consistency": consistency.kind };
      return inClientSpan("SpiceDB CheckPermission (traced)", attributes, () => client.checkWithTrace(item, consistency, context));
    },
    lookupResources: (resourceType: string, permission: string, subject: ObjectRef, consistency: Consistency, context?: CheckContext) => {
      const attributes = { "spicedb.resource_type": resourceType, "spicedb.permission": permission, "spicedb.consistency": consistency.kind };
      return inClientSpan("SpiceDB LookupResources", attributes, async (span) => {
        const ids = await client.lookupResources(resourceType, permission, subject, consistency, context);
        span.setAttribute("spicedb.results", ids.length);
        return ids;
      });
    },
    readRelationships: (resourceType: string) =>
      inClientSpan("SpiceDB ReadRelationships", { "spicedb.resource_type": resourceType }, async (span) => {
        const relationships = await client.readRelationships(resourceType);
        span.setAttribute("spicedb.results", relationships.length);
        return relationships;
      }),
    close: () => client.close(),
  };
}
