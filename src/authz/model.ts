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
}

export interface CheckItem {
  resource: ObjectRef;
  permission: string;
  subject: ObjectRef;
}

export const ref = (type: string, id: string): ObjectRef => ({ type, id });

export function relationshipKey(r: Relationship): string {
  const subjectRelation = r.subjectRelation ? `#${r.subjectRelation}` : "";
  return `${r.resource.type}:${r.resource.id}#${r.relation}@${r.subject.type}:${r.subject.id}${subjectRelation}`;
}

export function checkKey(c: CheckItem): string {
  return `${c.resource.type}:${c.resource.id}#${c.permission}@${c.subject.type}:${c.subject.id}`;
}
