import { builder } from "../../graphql/builder.js";
import { typeOfId } from "../../ids.js";
import { notFound } from "../../errors.js";
import { ref } from "../../authz/model.js";
import type { Row } from "../../db/database.js";
import type { Loaders } from "../../graphql/loaders.js";
import type { ApiKey } from "../api-key/api-key.repository.js";
import { findUser, type User } from "./user.repository.js";

export const PrincipalKind = builder.enumType("PrincipalKind", { values: ["USER", "SERVICE_ACCOUNT", "API_KEY"] as const });


/** Anything that can act: users, service accounts and team API keys. Its type is read off its id. */
export const PrincipalRef = builder.interfaceRef<{ id: string }>("Principal").implement({
  resolveType: (principal) => typeOfId(principal.id) ?? null,
  fields: (t) => ({
    id: t.exposeID("id"),
    kind: t.field({ type: PrincipalKind }),
    displayName: t.string(),
  }),
});

/**
 * The row behind a principal id, for fields typed `Principal`: through the request's loaders,
 * so a list of 100 members or audit events costs one query per principal kind, not 100.
 */
export async function loadPrincipal(loaders: Loaders, id: string | null): Promise<User | ApiKey | Row<"service_accounts"> | null> {
  if (!id) return null;
  const type = typeOfId(id);
  if (type === "User") return (await loaders.user.load(id)) ?? null;
  if (type === "ApiKey") return (await loaders.apiKey.load(id)) ?? null;
  if (type === "ServiceAccount") return (await loaders.serviceAccount.load(id)) ?? null;
  return null;
}

export const UserRef = builder.objectRef<User>("User");

builder.node(UserRef, {
  id: { resolve: (user) => user.id },
  interfaces: [PrincipalRef],
  // Users are reached through gated parents (memberships); `node(id)` checks user#view:
  // themselves and fellow members of an organization.
  loadOne: async (id, ctx) => {
    if (!(await ctx.authz.can(ref("user", id), "view"))) throw notFound("user not found");
    return (await findUser(ctx.db, id)) ?? null;
  },
  fields: (t) => ({
    kind: t.field({ type: PrincipalKind, resolve: () => "USER" as const }),
    displayName: t.exposeString("display_name"),
    email: t.exposeString("email"),
  }),
});
