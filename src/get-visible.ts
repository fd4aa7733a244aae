import type { ObjectRef } from "./authz/model.js";
import type { AppContext } from "./context.js";
import type { Db } from "./db/database.js";
import { notFound } from "./errors.js";
import { expectId, type EntityType } from "./ids.js";

/**
 * The one way a service loads an object by id: the id must name a `kind`, the caller must
 * hold `permission` on `resource` (view, by default), and only then is the row read.
 * Invisible and nonexistent answer alike, NOT_FOUND ("Not found"), and neither reads the row.
 */
export async function getVisible<T>(
  ctx: AppContext,
  kind: EntityType,
  resource: ObjectRef,
  find: (db: Db, id: string) => Promise<T | undefined>,
  permission = "view",
): Promise<T> {
  expectId(resource.id, kind);
  await ctx.authz.requireVisible(resource, permission);
  const row = await find(ctx.db, resource.id);
  if (!row) throw notFound();
  return row;
}
