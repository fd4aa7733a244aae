import { ref, type Relationship } from "../../authz/model.js";

/** The relationships of service accounts (spicedb/schema.zed: service_account). */

/** The account belongs to its team: the team's viewers see it. */
export const serviceAccountInTeam = (serviceAccountId: string, teamId: string): Relationship => ({
  resource: ref("service_account", serviceAccountId),
  relation: "team",
  subject: ref("team", teamId),
});
