import type { Tx } from "../db/database.js";
import { relationshipKey, type Relationship } from "./model.js";
import { deleteRelationship, insertRelationships, queueInOutbox, type RelationshipOwner } from "./relationship.repository.js";

/**
 * The one write path for relationships.
 *
 * 1. Inside the domain change's own Postgres transaction, `writeRelationships` changes the
 *    durable record (`authz_relationships`) and queues every key it touched in `authz_outbox`.
 *    Postgres is the source of truth: a crash at any later point loses nothing.
 * 2. After the commit and before the mutation is acknowledged, the outbox applier
 *    (outbox-applier.ts) makes SpiceDB equal the record for every queued key: TOUCH where the
 *    record has the relationship, DELETE where it does not. Because it applies *state*, not
 *    operations, the order in which queued keys are applied never matters and applying twice
 *    is harmless. If SpiceDB is down the mutation reports AUTHZ_UNAVAILABLE: a revocation is
 *    never acknowledged before SpiceDB enforces it.
 * 3. Whatever was not applied (a crash between commit and flush, SpiceDB down) is applied by
 *    the next flush: at start, by the background timer, or by the next mutation.
 */
export async function writeRelationships(
  tx: Tx,
  owner: RelationshipOwner,
  change: { add?: Relationship[]; remove?: Relationship[] },
): Promise<void> {
  const add = dedupe(change.add ?? []);
  // A key both removed and added (re-setting the same role) stays.
  const added = new Set(add.map(relationshipKey));
  const remove = dedupe(change.remove ?? []).filter((r) => !added.has(relationshipKey(r)));
  await insertRelationships(tx, owner, add);
  for (const relationship of remove) await deleteRelationship(tx, relationship);
  await queueInOutbox(tx, [...add, ...remove]);
}

function dedupe(relationships: Relationship[]): Relationship[] {
  return [...new Map(relationships.map((r) => [relationshipKey(r), r])).values()];
}
