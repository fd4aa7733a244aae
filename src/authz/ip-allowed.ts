import { ref, type ObjectRef, type Relationship } from "./model.js";

/** The caveat of spicedb/schema.zed that admits an address inside a list of CIDRs. */
export const IP_ALLOWLIST_CAVEAT = "ip_allowlist";

/** Every principal type an allowlist admits or refuses (schema.zed `ip_allowed`). */
const PRINCIPAL_TYPES = ["user", "service_account", "api_key"];

/**
 * The `ip_allowed` wildcards of an organization or a team: always present (without them the
 * schema lets nobody in), uncaveated while the list is empty, caveated with the CIDRs otherwise.
 * The keys are the same either way, so setting a list rewrites them in place (TOUCH).
 * Built here for organization.relationships.ts, team.relationships.ts and ip-allowlist.relationships.ts.
 */
export function ipAllowedWildcards(scope: ObjectRef, cidrs: string[]): Relationship[] {
  return PRINCIPAL_TYPES.map((type) => ({
    resource: scope,
    relation: "ip_allowed",
    subject: ref(type, "*"),
    ...(cidrs.length > 0 ? { caveat: { name: IP_ALLOWLIST_CAVEAT, context: { cidrs } } } : {}),
  }));
}
