import { subjectOf } from "../../auth/principal.js";
import { CATALOG_KIND_OF, permissionsOf, type ObjectKind } from "../../authz/catalog.js";
import { caveatContextOf, ref, type ObjectRef } from "../../authz/model.js";
import type { AppContext } from "../../context.js";
import { badInput, forbidden, notFound, unauthenticated } from "../../errors.js";
import { typeOfId } from "../../ids.js";
import { apiKeyById } from "../api-key/api-key.service.js";
import { getChain } from "../chain/chain.service.js";
import { getEnvironment } from "../environment/environment.service.js";
import { getModel } from "../model/model.service.js";
import { getOrganization } from "../organization/organization.service.js";
import { getBrowsableTeam } from "../team/team.service.js";
import { deniedBy } from "./explain-gates.js";
import { readTrace, tidySteps, type ExplainStep } from "./explain-path.js";
import { describeSteps, nothingGrants } from "./explain-words.js";

export interface PermissionExplanation {
  allowed: boolean;
  path: string[];
}

/**
 * The object `on` and the team whose members' manager may explain others on it (none for an
 * organization: its own manage_members decides). Each getter answers NOT_FOUND alike for an
 * invisible and a nonexistent id; a team is reachable by its chains' grantees too, as in
 * viewerPermissions.
 */
async function visibleObject(ctx: AppContext, kind: ObjectKind, id: string): Promise<{ resource: ObjectRef; teamId?: string; orgId?: string }> {
  const resource = ref(kind, id);
  switch (kind) {
    case "organization":
      return { resource, orgId: (await getOrganization(ctx, id)).id };
    case "team":
      return { resource, teamId: (await getBrowsableTeam(ctx, id)).id };
    case "model":
      return { resource, teamId: (await getModel(ctx, id)).team_id };
    case "environment":
      return { resource, teamId: (await getEnvironment(ctx, id)).team_id };
    case "chain":
      return { resource, teamId: (await getChain(ctx, id)).team_id };
  }
}

/** Whom to explain: the caller, or a principal the caller views (a key by its own id). */
interface Explained {
  subject: ObjectRef;
  /** The team key, when the subject is one (its type and scope are read for the path). */
  key?: NonNullable<Awaited<ReturnType<typeof apiKeyById>>>;
  self: boolean;
}

async function explained(ctx: AppContext, principalId: string | null | undefined): Promise<Explained> {
  const principal = ctx.principal!;
  const own = principal.via.method === "api_key" ? principal.via.keyId : undefined;
  if (!principalId || principalId === principal.id || principalId === own) {
    const key = principal.kind === "API_KEY" ? await apiKeyById(ctx.db, principal.id) : undefined;
    return { subject: subjectOf(principal), self: true, ...(key ? { key } : {}) };
  }
  const type = typeOfId(principalId);
  if (type === "User") return { subject: ref("user", principalId), self: false };
  if (type === "ServiceAccount") return { subject: ref("service_account", principalId), self: false };
  if (type === "ApiKey") {
    await ctx.authz.requireVisible(ref("api_key", principalId));
    const key = (await apiKeyById(ctx.db, principalId))!;
    // Personal and service-account keys act as their owner; a team key is a subject of its own.
    if (key.kind === "PERSONAL") return { subject: ref("user", key.user_id!), self: false };
    if (key.kind === "SERVICE_ACCOUNT") return { subject: ref("service_account", key.service_account_id!), self: false };
    return { subject: ref("api_key", key.id), key, self: false };
  }
  throw badInput('"principalId" must be the id of a user, a service account or an API key');
}

/**
 * Why `permission` (a catalog name valid on `on`'s type) is allowed or denied to the caller, or
 * to `principalId`: the path SpiceDB's traced check took, in words. Explaining someone else
 * takes the power to manage the members of the object's team (or of the organization): it is
 * a "who can do what" question about them, which their manager may already answer.
 */
export async function explainPermission(ctx: AppContext, on: string, permission: string, principalId?: string | null): Promise<PermissionExplanation> {
  if (!ctx.principal) throw unauthenticated();
  const type = typeOfId(on);
  const kind = type && CATALOG_KIND_OF[type];
  if (!kind) throw badInput("Permissions are defined on organizations, teams, models, environments and chains");
  const definition = permissionsOf(kind).find((p) => p.name === permission);
  if (!definition) throw badInput(`"permission" must be one of ${permissionsOf(kind).map((p) => p.name).join(", ")} on a ${kind}`);

  const object = await visibleObject(ctx, kind, on);
  const who = await explained(ctx, principalId);
  if (!who.self) {
    const manages = object.teamId ? ref("team", object.teamId) : ref("organization", object.orgId!);
    const [visible, allowed] = await Promise.all([ctx.authz.can(who.subject, "view"), ctx.authz.can(manages, "manage_members")]);
    if (!visible) throw notFound();
    if (!allowed) throw forbidden("Explaining another principal's permissions takes managing the members here");
  }

  // Explaining oneself: from this request's address (IP allowlists); another principal: from none, so an allowlist reads "address unknown".
  const context = who.self ? caveatContextOf(ctx.authz.context) : undefined;
  const check = await ctx.authz.trace({ resource: object.resource, permission: definition.spicedbPermission, subject: who.subject }, context);
  const reading = readTrace(check.trace, check.allowed);
  const held: ExplainStep[] = [...reading.held];
  if (who.key?.type && !held.some((s) => s.kind === "key_type")) held.unshift({ kind: "key_type", type: who.key.type });
  if (!check.allowed && held.length === 0 && object.teamId && who.subject.type !== "api_key") {
    // Nothing held reached this permission: say where the subject stands on the team instead.
    const standing = await ctx.authz.trace({ resource: ref("team", object.teamId), permission: "principal_view", subject: who.subject }, context);
    held.push(...readTrace(standing.trace, standing.allowed).held);
  }
  const gates = check.allowed ? [] : tidySteps([...(await deniedBy(ctx, object.resource, definition.spicedbPermission, who.subject, object.teamId)), ...reading.caveats]);
  const path = await describeSteps(ctx, [...held, ...gates]);
  if (!check.allowed && gates.length === 0) path.push(nothingGrants(permission));
  return { allowed: check.allowed, path };
}
