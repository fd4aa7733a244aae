import { badInput } from "../errors.js";
import { validPageSize } from "../validation.js";

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/**
 * A forward keyset page: `fetch(after, limit)` returns rows in key order after the cursor;
 * one extra row tells whether there is a next page. Cursors are the row keys themselves
 * (ids sort by creation), so a page stays stable while rows are added.
 */
export async function keysetConnection<T>(
  args: ConnectionArgs,
  fetch: (after: string | undefined, limit: number) => Promise<T[]>,
  cursorOf: (row: T) => string,
) {
  if (args.last != null || args.before != null) throw badInput("Pages go forward only: use first and after");
  const limit = validPageSize(args.first);
  const rows = await fetch(args.after ?? undefined, limit + 1);
  const edges = rows.slice(0, limit).map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: Boolean(args.after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
