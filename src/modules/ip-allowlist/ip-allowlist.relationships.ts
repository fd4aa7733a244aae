import { ipAllowedWildcards } from "../../authz/ip-allowed.js";
import { ref, type Relationship } from "../../authz/model.js";

/**
 * The `ip_allowed` wildcards of an organization or a team holding `cidrs` (spicedb/schema.zed):
 * the same keys whatever the list, so writing them replaces the previous list's caveat.
 */
export const scopeIpAllowed = (scope: { type: "organization" | "team"; id: string }, cidrs: string[]): Relationship[] =>
  ipAllowedWildcards(ref(scope.type, scope.id), cidrs);
