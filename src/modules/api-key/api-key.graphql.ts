import { keyIdOf } from "../../auth/principal.js";
import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { PrincipalKind, PrincipalRef } from "../user/user.graphql.js";
import type { ApiKey } from "./api-key.repository.js";
import { apiKeyRef, getApiKey } from "./api-key.service.js";

export const ApiKeyTypeEnum = builder.enumType("ApiKeyType", { values: ["FULL_ACCESS", "INFERENCE_ONLY", "METRICS_ONLY"] as const });
export const ApiKeyKindEnum = builder.enumType("ApiKeyKind", { values: ["PERSONAL", "TEAM", "SERVICE_ACCOUNT"] as const });

export const ApiKeyRef = builder.objectRef<ApiKey>("ApiKey");

// Its team, environments and models, and the mutations, are added in api-key.team.graphql.ts,
// where the Team, Environment and Model types are at hand.
builder.node(ApiKeyRef, {
  id: { resolve: (key) => key.id },
  interfaces: [PrincipalRef],
  // Visible to its owner (personal keys), its team's key managers, and itself (a key reading
  // viewer.principal); never its secret.
  authScopes: (key, ctx) => (keyIdOf(ctx.principal) === key.id ? { authenticated: true } : { visible: scopeKey(apiKeyRef(key.id)) }),
  loadOne: (id, ctx) => getApiKey(ctx, id),
  fields: (t) => ({
    kind: t.field({ type: PrincipalKind, resolve: () => "API_KEY" as const }),
    displayName: t.exposeString("name"),
    name: t.exposeString("name"),
    keyKind: t.field({ type: ApiKeyKindEnum, resolve: (key) => key.kind }),
    type: t.field({ type: ApiKeyTypeEnum, nullable: true, resolve: (key) => key.type }),
    prefix: t.exposeString("prefix"),
    createdAt: t.field({ type: "DateTime", resolve: (key) => key.created_at }),
    expiresAt: t.field({ type: "DateTime", nullable: true, resolve: (key) => key.expires_at }),
    lastUsedAt: t.field({ type: "DateTime", nullable: true, resolve: (key) => key.last_used_at }),
    revokedAt: t.field({ type: "DateTime", nullable: true, resolve: (key) => key.revoked_at }),
    requestsPerMinute: t.exposeInt("requests_per_minute", { nullable: true, description: "The key's own per-minute limit on /v1/authorize; null: none (its team's may still apply)." }),
  }),
});
