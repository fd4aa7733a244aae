import { ref, type ObjectRef, type Relationship } from "../../authz/model.js";
import type { TeamRole } from "../../db/database.js";

/** The relationships of teams and their built-in roles (spicedb/schema.zed: team). */

export const teamInOrg = (teamId: string, orgId: string): Relationship => ({
  resource: ref("team", teamId),
  relation: "org",
  subject: ref("organization", orgId),
});

export const teamRole = (teamId: string, principal: ObjectRef, role: TeamRole): Relationship => ({
  resource: ref("team", teamId),
  relation: role.toLowerCase(),
  subject: principal,
});
