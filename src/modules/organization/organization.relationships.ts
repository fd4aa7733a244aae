import { ipAllowedWildcards } from "../../authz/ip-allowed.js";
import { ref, type Relationship } from "../../authz/model.js";
import type { OrgRole } from "../../db/database.js";

/** The relationships that say what an organization role grants (spicedb/schema.zed: organization). */

const ORG_ROLE_RELATION: Record<OrgRole, string> = { ADMIN: "admin", BILLING_ADMIN: "billing_admin", MEMBER: "member" };

export const orgRole = (orgId: string, userId: string, role: OrgRole): Relationship => ({
  resource: ref("organization", orgId),
  relation: ORG_ROLE_RELATION[role],
  subject: ref("user", userId),
});

/** Lets the organization's members see the user. */
export const userInOrg = (userId: string, orgId: string): Relationship => ({
  resource: ref("user", userId),
  relation: "org",
  subject: ref("organization", orgId),
});

/** A new organization admits every address (no IP allowlist yet; setIpAllowlist narrows it). */
export const orgAdmitsEveryAddress = (orgId: string): Relationship[] => ipAllowedWildcards(ref("organization", orgId), []);
