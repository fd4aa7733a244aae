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

/** Rows fetched per extra batch at most when earlier batches held too few visible rows. */
const MAX_BATCH = 1000;

/**
 * A keyset page of the rows the caller may see: `visible(rows)` keeps those in order (one
 * bulk check per batch). A batch with too few visible rows does not end the page: further
 * batches, growing, are fetched after the last row read until the page has `first` visible
 * rows and one more (so hasNextPage tells the truth) or the rows run out. When everything
 * is visible this is one Postgres page and one bulk check, as before.
 */
export function filteredKeysetConnection<T>(
  args: ConnectionArgs,
  fetch: (after: string | undefined, limit: number) => Promise<T[]>,
  cursorOf: (row: T) => string,
  visible: (rows: T[]) => Promise<T[]>,
) {
  return keysetConnection(
    args,
    async (after, wanted) => {
      const kept: T[] = [];
      let cursor = after;
      for (let batch = wanted; ; batch = Math.min(batch * 2, MAX_BATCH)) {
        const rows = await fetch(cursor, batch);
        kept.push(...(await visible(rows)));
        if (kept.length >= wanted || rows.length < batch) return kept.slice(0, wanted);
        cursor = cursorOf(rows.at(-1)!);
      }
    },
    cursorOf,
  );
}
