import SchemaBuilder from "@pothos/core";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin, { type AuthFailure } from "@pothos/plugin-scope-auth";
import { auditPlugin } from "./audit-plugin.js";
import type { AppContext } from "../context.js";
import { codedError, notFound, unauthenticated } from "../errors.js";
import { typeOfId } from "../ids.js";
import { badInput } from "../errors.js";
import { parseScopeKey } from "./scope-keys.js";

/**
 * Scopes:
 * - `authenticated`: the caller presented valid credentials;
 * - `visible: "team:<id>"`: the caller may view the object (failure: NOT_FOUND, so that
 *   existence is not revealed);
 * - `can: "team:<id>#secrets_read_names"`: the caller holds that permission (failure: FORBIDDEN).
 * Parameters are strings, so scope-auth's per-request cache and the authorizer's DataLoader
 * both deduplicate repeated questions.
 */
export const builder = new SchemaBuilder<{
  Context: AppContext;
  AuthScopes: { authenticated: boolean; visible: string; can: string };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  // Audit first: it wraps scope-auth, so refusals by a scope are audited too (audit-plugin.ts).
  plugins: [auditPlugin, ScopeAuthPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // A type's scopes run once per object, where it is returned, not on each of its fields.
    runScopesOnType: true,
    // A SpiceDB failure must surface as AUTHZ_UNAVAILABLE, never as a silent deny.
    treatErrorsAsUnauthorized: false,
    authScopes: (ctx) => ({
      // Read when asked, not when the request starts: accepting an invitation signs the
      // caller in part-way through a request.
      authenticated: () => ctx.principal !== undefined,
      visible: (key) => {
        const { resource, permission } = parseScopeKey(key, "view");
        return ctx.authz.can(resource, permission);
      },
      can: (key) => {
        const { resource, permission } = parseScopeKey(key);
        return ctx.authz.can(resource, permission);
      },
    }),
    unauthorizedError: (_parent, ctx, _info, result) => {
      const scope = failedScope(result.failure);
      if (scope === "authenticated" || !ctx.principal) return unauthenticated();
      if (scope === "visible") return notFound();
      return codedError("FORBIDDEN", "Not allowed");
    },
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    nodesQueryOptions: false,
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    // Orgraph ids already carry their type (`team_…`): they are the global ids as they are.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => {
      const typename = typeOfId(globalID);
      if (!typename) throw badInput(`"${globalID.slice(0, 64)}" is not a valid id`);
      return { typename, id: globalID };
    },
  },
});

/** The first scope that failed, looking through $any / $all groups. */
function failedScope(failure: AuthFailure): string | undefined {
  if ("scope" in failure) return failure.scope;
  if ("failures" in failure) {
    for (const inner of failure.failures) {
      const scope = failedScope(inner);
      if (scope) return scope;
    }
  }
  return undefined;
}

builder.queryType({ authScopes: { authenticated: true } });
builder.mutationType({ authScopes: { authenticated: true } });
