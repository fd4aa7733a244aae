import { ref, type Relationship } from "../../authz/model.js";

/** Relationships of models (spicedb/schema.zed: model). */
export const modelInTeam = (modelId: string, teamId: string): Relationship => ({
  resource: ref("model", modelId),
  relation: "team",
  subject: ref("team", teamId),
});
