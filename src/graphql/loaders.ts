import DataLoader from "dataloader";
import type { Db, Row } from "../db/database.js";
import { findActiveDeployments, findRowsByIds, type TableWithId } from "./loaders.repository.js";

/**
 * Per-request loaders for rows that GraphQL fields fetch by id: a page of 100 objects that
 * each name their team, model or environment costs one query per table, not one per object.
 */
export function createLoaders(db: Db) {
  const byId = <T extends TableWithId>(table: T) =>
    new DataLoader<string, Row<T> | undefined>(async (ids) => {
      const rows = await findRowsByIds(db, table, ids);
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
      const rows = await findActiveDeployments(db, modelIds);
      return modelIds.map((id) => rows.filter((row) => row.model_id === id));
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
