/** Plain shapes of SpiceDB objects and relationships as the application speaks of them. */

export interface ObjectRef {
  type: string;
  id: string;
}

export interface Relationship {
  resource: ObjectRef;
  relation: string;
  subject: ObjectRef;
  /** A subject set such as `team:t1#member`; empty for a direct subject. */
  subjectRelation?: string;
  /**
   * A caveat the relationship holds under (schema.zed `with <name>`), with the relationship's
   * part of its context. Not part of the key: as in SpiceDB, one key holds one caveat, and
   * writing the key again (TOUCH) replaces it. Later attributes of a relationship (an
   * expiration) sit beside it the same way.
   */
  caveat?: RelationshipCaveat;
  /**
   * When the relationship stops counting (schema.zed `with expiration`: an approved access
   * request). Not part of the key: writing the key again replaces it, and a key written without
   * one holds for good. SpiceDB ignores it from this instant on; so do the record's reads.
   */
  expiresAt?: Date;
}

export interface RelationshipCaveat {
  name: string;
  context: Record<string, unknown>;
}

/**
 * What a check knows about the request besides who asks: the caveats' request-time context.
 * `clientIp`: the caller's address, canonical (ip-address.ts); absent when unknown, so that a
 * caveated allowlist answers CONDITIONAL, which is a denial.
 */
export interface CheckContext {
  clientIp?: string;
}

export interface CheckItem {
  resource: ObjectRef;
  permission: string;
  subject: ObjectRef;
  context?: CheckContext;
}

export const ref = (type: string, id: string): ObjectRef => ({ type, id });

export function relationshipKey(r: Relationship): string {
  const subjectRelation = r.subjectRelation ? `#${r.subjectRelation}` : "";
  return `${r.resource.type}:${r.resource.id}#${r.relation}@${r.subject.type}:${r.subject.id}${subjectRelation}`;
}

/** The cache key of a check: the question and its context (the same question from another address is another question). */
export function checkKey(c: CheckItem): string {
  return `${c.resource.type}:${c.resource.id}#${c.permission}@${c.subject.type}:${c.subject.id}${c.context?.clientIp ? ` from ${c.context.clientIp}` : ""}`;
}

/** Two relationships of one key say the same (their caveats included): for drift. */
export const sameCaveat = (a: Relationship, b: Relationship): boolean =>
  (a.caveat?.name ?? "") === (b.caveat?.name ?? "") &&
  JSON.stringify(a.caveat?.context ?? {}) === JSON.stringify(b.caveat?.context ?? {}) &&
  // SpiceDB keeps expirations to the second or finer; compare whole milliseconds.
  (a.expiresAt?.getTime() ?? 0) === (b.expiresAt?.getTime() ?? 0);

/** The SpiceDB context of a check (the caveat parameters' names), or undefined when it has none. */
export function caveatContextOf(context: CheckContext | undefined): Record<string, unknown> | undefined {
  return context?.clientIp ? { client_ip: context.clientIp } : undefined;
}
