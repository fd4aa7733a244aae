import { builder } from "../../graphql/builder.js";
import { notFound } from "../../errors.js";
import { PrincipalKind, PrincipalRef } from "../user/user.graphql.js";
import { findApiKey, type ApiKey } from "./api-key.repository.js";

export const ApiKeyTypeEnum = builder.enumType("ApiKeyType", { values: ["FULL_ACCESS", "INFERENCE_ONLY", "METRICS_ONLY"] as const });
export const ApiKeyKindEnum = builder.enumType("ApiKeyKind", { values: ["PERSONAL", "TEAM", "SERVICE_ACCOUNT"] as const });

export const ApiKeyRef = builder.objectRef<ApiKey>("ApiKey");

builder.node(ApiKeyRef, {
  id: { resolve: (key) => key.id },
  interfaces: [PrincipalRef],
  // A personal key is visible to its owner only.
  loadOne: async (id, ctx) => {
    const key = await findApiKey(ctx.db, id);
    if (!key || key.kind !== "PERSONAL" || key.user_id !== ctx.principal?.id) throw notFound("API key not found");
    return key;
  },
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
  }),
});
