import { ref, type Relationship } from "../../authz/model.js";

/** The relationships of training projects (spicedb/schema.zed: training_project). */

/** The project belongs to its team, whose roles decide who views, edits and deletes it. */
export const trainingProjectInTeam = (projectId: string, teamId: string): Relationship => ({
  resource: ref("training_project", projectId),
  relation: "team",
  subject: ref("team", teamId),
});
