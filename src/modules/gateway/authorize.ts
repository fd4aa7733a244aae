import type { Principal } from "../../auth/principal.js";
import type { Authorizer } from "../../authz/authorizer.js";
import { spicedbName } from "../../authz/catalog.js";
import { ref } from "../../authz/model.js";
import type { AppDeps } from "../../context.js";
import { typeOfId } from "../../ids.js";
import type { Decision, GatewayOutcome, GatewayVerdict } from "../../authz/decision.js";
import { environmentByName } from "../environment/environment.service.js";
import { modelById, modelByName } from "../model/model.service.js";
import { teamById } from "../team/team.service.js";
import { countInvocation } from "../usage/usage.js";
import { consumeLimits, keyLimitOf, limitsOfTeam } from "./limits.js";
import { applyToolPolicy, asksToolPolicy, parseToolFields, toolQuestionKey, type ToolFields } from "./tool-policy-stage.js";
import { IP_NOT_ALLOWED_DECISION, parseClientIp } from "./ip-allowlist-stage.js";

/**
 * The inference gateway's question: may this credential do `action` on `model` in
 * `environment`? Decided in SpiceDB, as one bulk check of the model permission and the
 * environment permission (so key types and environment/model scopes all apply).
 *
 * An action is the catalog name (src/authz/catalog.ts) of what is asked; each names the
 * catalog permission checked on the model and the one checked on the environment.
 */
export const GATEWAY_ACTIONS = {
  "model:invoke": { model: "model:invoke", environment: "environment:invoke", verb: "invoke" },
  "metrics:read": { model: "metrics:read", environment: "metrics:read", verb: "read metrics" },
  "environment:manage": { model: "model:edit", environment: "environment:manage", verb: "manage" },
} as const;

export type GatewayAction = keyof typeof GATEWAY_ACTIONS;

/**
 * Deprecated: the action names before issue 12, still accepted so that deployed gateways keep
 * working. Each is answered exactly as its canonical name (same checks, cache entry, usage).
 */
export const DEPRECATED_ACTIONS: Record<string, GatewayAction> = {
  invoke: "model:invoke",
  read_metrics: "metrics:read",
  manage: "environment:manage",
};

/** [SpiceDB permission on the model, on the environment] per action, resolved once at load. */
const CHECKS = Object.fromEntries(
  Object.entries(GATEWAY_ACTIONS).map(([action, { model, environment }]) => [action, [spicedbName("model", model), spicedbName("environment", environment)]]),
) as Record<GatewayAction, [string, string]>;

/** The canonical action for a name the endpoint accepts, or undefined (own keys only: "constructor" is no action). */
const canonicalAction = (name: string): GatewayAction | undefined =>
  Object.hasOwn(GATEWAY_ACTIONS, name) ? (name as GatewayAction) : Object.hasOwn(DEPRECATED_ACTIONS, name) ? DEPRECATED_ACTIONS[name] : undefined;

export interface AuthorizeRequest extends ToolFields {
  action: GatewayAction;
  team?: string;
  model: string;
  environment: string;
  /** The end client's address, canonical (ip-allowlist-stage.ts); else the HTTP client's is used. */
  clientIp?: string;
}

export type { Decision } from "../../authz/decision.js";

export class BadAuthorizeRequest extends Error {}

export function parseAuthorizeRequest(body: unknown): AuthorizeRequest {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new BadAuthorizeRequest("The body must be a JSON object");
  const { action: asked, team, model, environment, clientIp } = body as Record<string, unknown>;
  const action = typeof asked === "string" ? canonicalAction(asked) : undefined;
  if (!action) {
    const names = (list: string[]) => list.map((name) => `"${name}"`).join(", ");
    throw new BadAuthorizeRequest(`"action" must be one of ${names(Object.keys(GATEWAY_ACTIONS))} (deprecated: ${names(Object.keys(DEPRECATED_ACTIONS))})`);
  }
  if (typeof model !== "string" || model.length === 0 || model.length > 200) throw new BadAuthorizeRequest('"model" must be a model id or name');
  if (typeof environment !== "string" || environment.length === 0 || environment.length > 100) {
    throw new BadAuthorizeRequest('"environment" must be an environment name');
  }
  if (team !== undefined && (typeof team !== "string" || typeOfId(team) !== "Team")) throw new BadAuthorizeRequest('"team" must be a team id');
  const tools = parseToolFields(body as Record<string, unknown>);
  if ("error" in tools) throw new BadAuthorizeRequest(tools.error);
  return { action, model, environment, ...(team ? { team } : {}), ...parseClientIp(clientIp, (message) => new BadAuthorizeRequest(message)), ...tools.fields };
}

const deny = (outcome: GatewayOutcome, reason: string): GatewayVerdict => ({ decision: { allowed: false, reason }, outcome });

/**
 * Decisions are cached per principal and question under the request's stamp
 * (authz/stamped-cache.ts): any committed change — a key revoked, a grant removed, a model
 * deleted — drops them all before it is acknowledged, so a cached allow is never stale.
 */
export async function decide(deps: AppDeps, authz: Authorizer, principal: Principal, request: AuthorizeRequest): Promise<Decision> {
  // Team keys and service accounts belong to one team; a user names the team.
  const ownTeam = principal.kind === "USER" ? undefined : principal.teamId;
  if (ownTeam && request.team && request.team !== ownTeam) return counted(deps, deny("other_team", "This key belongs to another team"));
  const teamId = ownTeam ?? request.team;
  if (!teamId) throw new BadAuthorizeRequest('"team" is required with a personal key');

  const { stamp } = await authz.snapshot.get();
  // The address is part of the question: the same question from another address may be refused.
  const question = JSON.stringify([principal.kind, principal.id, teamId, request.action, request.model, request.environment, authz.context.clientIp ?? null, ...toolQuestionKey(request)]);
  const verdict = (await deps.caches.decisions.load(stamp, question, () => decideFresh(deps, authz, principal, teamId, request)))!;
  if (verdict.decision.allowed && verdict.team && request.action === "model:invoke") {
    // Last stage, outside the cache: only a call that would be allowed consumes (limits.ts).
    const refusal = await consumeLimits(deps, verdict.team, keyLimitOf(principal));
    if (refusal) {
      deps.metrics.countDecision(refusal.outcome);
      throw refusal;
    }
    countInvocation(deps.usage, verdict.team.orgId, verdict.team.id);
  }
  return counted(deps, verdict);
}

function counted(deps: AppDeps, verdict: GatewayVerdict): Decision {
  deps.metrics.countDecision(verdict.outcome);
  return verdict.decision;
}

/** Stands in for an id that does not exist, so that every question takes the same path. */
const NONE = "none";

/**
 * One path for every question: the same reads and one bulk check whether or not the team,
 * model and environment exist, so neither the answer nor its timing tells a caller about
 * objects it may not view. Only a caller who views the team (and, for a key, the model or
 * environment within its scope) learns that a name does not exist there; to anyone else a
 * nonexistent team, model or environment is denied exactly as an invisible one is.
 */
async function decideFresh(deps: AppDeps, authz: Authorizer, principal: Principal, teamId: string, request: AuthorizeRequest): Promise<GatewayVerdict> {
  const [team, byName, byId, environment] = await Promise.all([
    teamById(deps.db, teamId),
    modelByName(deps.db, teamId, request.model),
    typeOfId(request.model) === "Model" ? modelById(deps.db, request.model) : undefined,
    environmentByName(deps.db, teamId, request.environment),
  ]);
  const model = byId?.team_id === teamId ? byId : byName;
  const modelRef = ref("model", model?.id ?? NONE);
  const environmentRef = ref("environment", environment?.id ?? NONE);

  const [modelPermission, environmentPermission] = CHECKS[request.action];
  const [onModel, onEnvironment, viewsTeam, viewsModel, viewsEnvironment, ipRefused] = await Promise.all([
    authz.can(modelRef, modelPermission),
    authz.can(environmentRef, environmentPermission),
    authz.can(ref("team", teamId), "view"),
    authz.can(modelRef, "view"),
    authz.can(environmentRef, "view"),
    // Holds only for whoever would enter the team from an allowed address (schema.zed).
    authz.can(ref("team", teamId), "ip_refused"),
  ]);
  if (team && model && environment && onModel && onEnvironment) {
    const granted = { decision: { allowed: true as const }, outcome: "granted" as const, team: { id: team.id, orgId: team.org_id, limits: limitsOfTeam(team) } };
    return asksToolPolicy(request) ? applyToolPolicy(deps, principal, granted, request) : granted;
  }
  if (ipRefused) return { decision: IP_NOT_ALLOWED_DECISION, outcome: "ip_not_allowed" };
  if (viewsTeam && !viewsModel) return deny("no_such_model", "The team has no such model");
  if (viewsTeam && !viewsEnvironment) return deny("no_such_environment", "The team has no such environment");
  return deny("not_allowed", `Not allowed to ${GATEWAY_ACTIONS[request.action].verb} this model in this environment`);
}
