import { ipAllowedWildcards } from "../../authz/ip-allowed.js";
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

/** The other direction of teamInOrg: lets whoever views the team browse its organization. */
export const orgHasTeam = (orgId: string, teamId: string): Relationship => ({
  resource: ref("organization", orgId),
  relation: "team",
  subject: ref("team", teamId),
});

/** Marks the organization's default team, which every member may browse. */
export const defaultTeamOf = (teamId: string, orgId: string): Relationship => ({
  resource: ref("team", teamId),
  relation: "default_of",
  subject: ref("organization", orgId),
});

/** A new team admits every address its organization admits (no IP allowlist of its own yet). */
export const teamAdmitsEveryAddress = (teamId: string): Relationship[] => ipAllowedWildcards(ref("team", teamId), []);
