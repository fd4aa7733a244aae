import DataLoader from "dataloader";
import type { Db, Row } from "../db/database.js";

type TableWithId = "organizations" | "teams" | "users" | "models" | "environments" | "chains" | "api_keys" | "service_accounts";

/**
 * Per-request loaders for rows that GraphQL fields fetch by id: a page of 100 objects that
 * each name their team, model or environment costs one query per table, not one per object.
 */
export function createLoaders(db: Db) {
  const byId = <T extends TableWithId>(table: T) =>
    new DataLoader<string, Row<T> | undefined>(async (ids) => {
      const rows = (await db
        .selectFrom(table as TableWithId)
        .selectAll()
        .where("id", "in", [...ids])
        .execute()) as unknown as (Row<T> & { id: string })[];
      const found = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => found.get(id));
    });
  return {
    organization: byId("organizations"),
    team: byId("teams"),
    user: byId("users"),
    model: byId("models"),
    environment: byId("environments"),
    chain: byId("chains"),
    apiKey: byId("api_keys"),
    serviceAccount: byId("service_accounts"),
    /** The active deployments of each model. */
    activeDeployments: new DataLoader<string, Row<"deployments">[]>(async (modelIds) => {
      const rows = await db
        .selectFrom("deployments")
        .selectAll()
        .where("model_id", "in", [...modelIds])
        .where("active", "=", true)
        .orderBy("environment_id")
        .execute();
      return modelIds.map((id) => rows.filter((row) => row.model_id === id));
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
