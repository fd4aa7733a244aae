import type { ObjectRef } from "../authz/model.js";

/** `"team:t1#manage_members"` ⇄ resource + permission: the string form scope parameters take. */
export function scopeKey(resource: ObjectRef, permission?: string): string {
  return permission ? `${resource.type}:${resource.id}#${permission}` : `${resource.type}:${resource.id}`;
}

export function parseScopeKey(key: string, defaultPermission?: string): { resource: ObjectRef; permission: string } {
  const [object = "", permission = defaultPermission ?? ""] = key.split("#");
  const colon = object.indexOf(":");
  return { resource: { type: object.slice(0, colon), id: object.slice(colon + 1) }, permission };
}
