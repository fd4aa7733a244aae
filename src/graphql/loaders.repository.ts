import type { Db, Row } from "../db/database.js";

/*
 * The loaders' queries. The GraphQL layer batches reads by id across modules (one query per
 * table per request, whatever module a field belongs to), so these generic by-id reads live
 * here, next to loaders.ts, rather than in each module's repository.
 */

export type TableWithId = "organizations" | "teams" | "users" | "models" | "environments" | "chains" | "api_keys" | "service_accounts";

/** The rows of `table` among `ids`, in no particular order. */
export const findRowsByIds = async <T extends TableWithId>(db: Db, table: T, ids: readonly string[]) =>
  (await db
    .selectFrom(table as TableWithId)
    .selectAll()
    .where("id", "in", [...ids])
    .execute()) as unknown as (Row<T> & { id: string })[];

/** The active deployments of the models among `modelIds`, by environment. */
export const findActiveDeployments = (db: Db, modelIds: readonly string[]) =>
  db
    .selectFrom("deployments")
    .selectAll()
    .where("model_id", "in", [...modelIds])
    .where("active", "=", true)
    .orderBy("environment_id")
    .execute();
