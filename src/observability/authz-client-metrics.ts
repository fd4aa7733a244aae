import type { AuthzClient } from "../authz/client.js";
import type { Metrics, SpiceDbMethod } from "./metrics.js";

/**
 * Times every SpiceDB call Orgraph makes, by method and outcome. Applied outside any wrapper a
 * test or benchmark puts in front of SpiceDB (orgraph.ts), so it counts what Orgraph asked
 * and what it got back, injected faults included.
 */
export function instrumentAuthzClient(client: AuthzClient, metrics: Metrics): AuthzClient {
  async function timed<T>(method: SpiceDbMethod, call: () => Promise<T>): Promise<T> {
    const end = metrics.timeSpiceDb(method);
    try {
      const result = await call();
      end("ok");
      return result;
    } catch (error) {
      end("error");
      throw error;
    }
  }
  return {
    writeSchema: (schema) => timed("writeSchema", () => client.writeSchema(schema)),
    write: (updates) => timed("write", () => client.write(updates)),
    checkBulk: (items, consistency) => timed("checkBulk", () => client.checkBulk(items, consistency)),
    checkWithTrace: (item, consistency, context) => timed("checkWithTrace", () => client.checkWithTrace(item, consistency, context)),
    lookupResources: (type, permission, subject, consistency, context) => timed("lookupResources", () => client.lookupResources(type, permission, subject, consistency, context)),
    readRelationships: (type) => timed("readRelationships", () => client.readRelationships(type)),
    close: () => client.close(),
  };
}
