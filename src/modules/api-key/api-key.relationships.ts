import { ref, type Relationship } from "../../authz/model.js";
import type { ApiKey } from "./api-key.repository.js";

/** Relationships of API keys (spicedb/schema.zed: api_key, and the key relations of team, environment, model). */

const TYPE_RELATION = { FULL_ACCESS: "full_access_key", INFERENCE_ONLY: "inference_key", METRICS_ONLY: "metrics_key" } as const;

export interface KeyScope {
  /** null: every environment of the team. */
  environmentIds: string[] | null;
  /** null: every model of the team. */
  modelIds: string[] | null;
}

/** What a key is and where it reaches. Personal and service-account keys act as their owner. */
export function apiKeyRelationships(key: ApiKey, scope: KeyScope): Relationship[] {
  const self = ref("api_key", key.id);
  if (key.kind === "PERSONAL") return [{ resource: self, relation: "owner", subject: ref("user", key.user_id!) }];
  const team = ref("team", key.team_id!);
  const visibility: Relationship = { resource: self, relation: "team", subject: team };
  if (key.kind === "SERVICE_ACCOUNT") return [visibility];
  return [visibility, ...keyCapabilities(key, scope)];
}

/** The team-key relationships whose subject is the key: what revocation removes. */
function keyCapabilities(key: ApiKey, scope: KeyScope): Relationship[] {
  const self = ref("api_key", key.id);
  const team = ref("team", key.team_id!);
  const relationships: Relationship[] = [{ resource: team, relation: TYPE_RELATION[key.type!], subject: self }];
  if (scope.environmentIds === null) relationships.push({ resource: team, relation: "env_unscoped_key", subject: self });
  else for (const id of scope.environmentIds) relationships.push({ resource: ref("environment", id), relation: "scoped_key", subject: self });
  if (scope.modelIds === null) relationships.push({ resource: team, relation: "model_unscoped_key", subject: self });
  else for (const id of scope.modelIds) relationships.push({ resource: ref("model", id), relation: "scoped_key", subject: self });
  return relationships;
}
