import { ref, type ObjectRef, type Relationship } from "../../authz/model.js";

/** Relationships of environments (spicedb/schema.zed: environment). */

export const environmentInTeam = (environmentId: string, teamId: string): Relationship => ({
  resource: ref("environment", environmentId),
  relation: "team",
  subject: ref("team", teamId),
});

/**
 * An unrestricted environment holds these wildcards; restricting it removes them. Absence
 * means restricted, so a lost relationship fails closed.
 */
export const unrestricted = (environmentId: string): Relationship[] =>
  ["user", "service_account", "api_key"].map((type) => ({
    resource: ref("environment", environmentId),
    relation: "unrestricted",
    subject: ref(type, "*"),
  }));

export const environmentGrantee = (environmentId: string, principal: ObjectRef): Relationship => ({
  resource: ref("environment", environmentId),
  relation: "grantee",
  subject: principal,
});
