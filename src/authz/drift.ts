import type { Db } from "../db/database.js";
import type { AuthzClient } from "./client.js";
import { relationshipKey, sameCaveat, type Relationship } from "./model.js";
import { writeOutsideOutbox } from "./outbox-applier.js";
import { allRelationships } from "./relationship.repository.js";

/** Every object type of spicedb/schema.zed that can be a resource. */
const RESOURCE_TYPES = [
  "user", "service_account", "api_key", "organization", "role", "role_binding", "team", "environment", "model", "chain", "training_project",
];

export interface Drift {
  /**
   * In the Postgres record, not in SpiceDB: a grant SpiceDB does not enforce. Also a key SpiceDB
   * holds with another caveat (an allowlist's old CIDRs): repairing it touches the record's.
   */
  missing: Relationship[];
  /** In SpiceDB, not in the record: an access SpiceDB grants that Orgraph never recorded (or revoked). */
  extra: Relationship[];
}

/** Compares the durable record with SpiceDB (fully consistent reads), type by type. */
export async function findDrift(db: Db, client: AuthzClient): Promise<Drift> {
  const recorded = new Map<string, Relationship>();
  for (const relationship of await allRelationships(db)) {
    recorded.set(relationshipKey(relationship), relationship);
  }
  const stored = new Map<string, Relationship>();
  for (const type of RESOURCE_TYPES) {
    for (const relationship of await client.readRelationships(type)) stored.set(relationshipKey(relationship), relationship);
  }
  return {
    missing: [...recorded].filter(([key, r]) => !stored.has(key) || !sameCaveat(stored.get(key)!, r)).map(([, r]) => r),
    extra: [...stored].filter(([key]) => !recorded.has(key)).map(([, r]) => r),
  };
}

/** Makes SpiceDB equal the record: touches what is missing, deletes what is extra. */
export async function repairDrift(db: Db, client: AuthzClient, drift: Drift): Promise<void> {
  const updates = [
    ...drift.missing.map((relationship) => ({ operation: "touch" as const, relationship })),
    ...drift.extra.map((relationship) => ({ operation: "delete" as const, relationship })),
  ];
  await writeOutsideOutbox(db, client, updates);
}
