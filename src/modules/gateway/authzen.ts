import type { Principal } from "../../auth/principal.js";
import type { Authorizer } from "../../authz/authorizer.js";
import type { AppDeps } from "../../context.js";
import { BadAuthorizeRequest, decide, parseAuthorizeRequest } from "./authorize.js";
import { recordRefusedDecision } from "./ip-allowlist-stage.js";
import { LimitRefusal } from "./limits.js";

/**
 * The OpenID AuthZEN Authorization API 1.0 (Access Evaluation and Access Evaluations) over the
 * gateway's own decision: each evaluation is turned into the body of `POST /v1/authorize` and
 * answered by the same `decide`, so both endpoints give the same answer for the same question.
 *
 * Mapping:
 * - `subject` must be the authenticated caller: `{type:"user", id}` for a user (JWT or personal
 *   key), `{type:"service_account", id}` for a service account's key, `{type:"api_key", id}` for
 *   the key used (any kind). Deciding for anyone else is denied with one reason, whether or not
 *   that subject exists (explaining others is explainPermission's, gated, power);
 * - `action.name` is the gateway action (`model:invoke`, `metrics:read`, `environment:manage`,
 *   or a deprecated alias);
 * - `resource` is `{type:"model", id: <model id or name>, properties: {environment, team?}}`;
 * - `context` may carry `clientIp`, `tool`, `sensitivity`, `phi` (the /v1/authorize fields of
 *   the gateway's policy), passed through as they are; `subject.properties.ip_address` (the
 *   specification's common subject property) stands for `clientIp` when that is absent. Other
 *   keys are ignored, as the specification asks of unknown fields.
 */
export interface AuthzenDecision {
  decision: boolean;
  context?: Record<string, unknown>;
}

/** A request the specification calls malformed: the whole call is 400. */
export class BadAuthzenRequest extends Error {}

export const EVALUATIONS_SEMANTICS = ["execute_all", "deny_on_first_deny", "permit_on_first_permit"] as const;
export type EvaluationsSemantic = (typeof EVALUATIONS_SEMANTICS)[number];

/** Evaluations per Access Evaluations call: each is a gateway decision (and counts against the rate limit). */
export const MAX_EVALUATIONS = 100;

const POLICY_INPUTS = ["clientIp", "tool", "sensitivity", "phi"] as const;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** One evaluation's four entities, after the top-level defaults were applied. */
export interface Evaluation {
  subject: Json;
  action: Json;
  resource: Json;
  context?: Json;
}

/** Requires subject, action and resource with their required members (the specification's 400). */
export function checkedEvaluation(value: unknown, where: string): Evaluation {
  if (!isObject(value)) throw new BadAuthzenRequest(`${where} must be a JSON object`);
  const { subject, action, resource, context } = value;
  const entity = (name: string, entityValue: unknown, keys: string[]): Json => {
    if (!isObject(entityValue)) throw new BadAuthzenRequest(`${where}: "${name}" is required and must be an object`);
    for (const key of keys) if (typeof entityValue[key] !== "string") throw new BadAuthzenRequest(`${where}: "${name}.${key}" is required and must be a string`);
    return entityValue;
  };
  if (context !== undefined && !isObject(context)) throw new BadAuthzenRequest(`${where}: "context" must be an object`);
  return {
    subject: entity("subject", subject, ["type", "id"]),
    action: entity("action", action, ["name"]),
    resource: entity("resource", resource, ["type", "id"]),
    ...(context ? { context } : {}),
  };
}

/** The subjects that name the caller. */
function isCaller(principal: Principal, subject: Json): boolean {
  const keyId = principal.via.method === "api_key" ? principal.via.keyId : undefined;
  if (subject.type === "api_key") return keyId !== undefined && subject.id === keyId;
  if (subject.type === "user") return principal.kind === "USER" && subject.id === principal.id;
  if (subject.type === "service_account") return principal.kind === "SERVICE_ACCOUNT" && subject.id === principal.id;
  return false;
}

/** The /v1/authorize body an evaluation asks; BadAuthorizeRequest names what does not map. */
function authorizeBody(evaluation: Evaluation): Json {
  const { action, resource, context = {} } = evaluation;
  if (resource.type !== "model") throw new BadAuthorizeRequest('"resource.type" must be "model"');
  const properties = isObject(resource.properties) ? resource.properties : {};
  const subjectProperties = isObject(evaluation.subject.properties) ? evaluation.subject.properties : {};
  const body: Json = { action: action.name, model: resource.id, environment: properties.environment };
  if (properties.team !== undefined) body.team = properties.team;
  for (const key of POLICY_INPUTS) if (context[key] !== undefined) body[key] = context[key];
  if (body.clientIp === undefined && subjectProperties.ip_address !== undefined) body.clientIp = subjectProperties.ip_address;
  return body;
}

/**
 * Where a decision is asked from: the request's Authorizer asking from the evaluation's
 * `clientIp` (or the connection's address), as /v1/authorize's IP stage does
 * (ip-allowlist-stage.ts); `at` throws BadAuthorizeRequest when the connection may not name one.
 */
export interface DecisionSite {
  at(clientIp: string | undefined): { authz: Authorizer; clientIp: string | undefined };
  requestId: string;
}

/**
 * One evaluation, decided exactly as /v1/authorize decides it. A question /v1/authorize would
 * answer 400 throws BadAuthorizeRequest (a single evaluation is then a 400; within a batch the
 * item is denied with that error). A refusal by a rate limit or the budget is a denial here
 * (its `code` and `retry_after` in the context): the specification has no per-item 429.
 */
export async function evaluate(deps: AppDeps, site: DecisionSite, principal: Principal, evaluation: Evaluation): Promise<AuthzenDecision> {
  if (!isCaller(principal, evaluation.subject)) {
    return { decision: false, context: { reason: "The subject must be the authenticated caller" } };
  }
  const request = parseAuthorizeRequest(authorizeBody(evaluation));
  const { authz, clientIp } = site.at(request.clientIp);
  let verdict;
  try {
    verdict = await decide(deps, authz, principal, request);
  } catch (error) {
    if (error instanceof LimitRefusal) return { decision: false, context: { reason: error.reason, code: error.code, retry_after: error.retryAfter } };
    throw error;
  }
  await recordRefusedDecision(deps, principal, verdict, { clientIp, team: request.team, requestId: site.requestId });
  const { allowed, ...details } = verdict as { allowed: boolean } & Json;
  return Object.keys(details).length > 0 ? { decision: allowed, context: details } : { decision: allowed };
}

/** A batch item whose question does not map: denied, with the error the specification shows. */
const itemError = (message: string): AuthzenDecision => ({ decision: false, context: { error: { status: 400, message } } });

/**
 * Access Evaluations: the items in order, each with the top-level defaults; `execute_all`
 * answers every item, `deny_on_first_deny` stops after the first denial (an error is one),
 * `permit_on_first_permit` after the first permit. The ordered semantics evaluate one item
 * at a time, so no item after the deciding one is evaluated — or counted as usage.
 */
export async function evaluateAll(
  deps: AppDeps,
  site: DecisionSite,
  principal: Principal,
  items: Evaluation[],
  semantic: EvaluationsSemantic,
): Promise<AuthzenDecision[]> {
  const one = async (item: Evaluation) => {
    try {
      return await evaluate(deps, site, principal, item);
    } catch (error) {
      if (error instanceof BadAuthorizeRequest) return itemError(error.message);
      throw error;
    }
  };
  // All at once: their SpiceDB checks travel together in one bulk check (authorizer.ts).
  if (semantic === "execute_all") return Promise.all(items.map(one));
  const answers: AuthzenDecision[] = [];
  for (const item of items) {
    const answer = await one(item);
    answers.push(answer);
    if (answer.decision === (semantic === "permit_on_first_permit")) break;
  }
  return answers;
}

/** The items of an Access Evaluations request with the top-level defaults applied to each. */
export function expandEvaluations(body: Json): Evaluation[] | undefined {
  const { evaluations } = body;
  if (evaluations === undefined || (Array.isArray(evaluations) && evaluations.length === 0)) return undefined;
  if (!Array.isArray(evaluations)) throw new BadAuthzenRequest('"evaluations" must be an array');
  if (evaluations.length > MAX_EVALUATIONS) throw new BadAuthzenRequest(`At most ${MAX_EVALUATIONS} evaluations per request`);
  return evaluations.map((item, i) => {
    if (!isObject(item)) throw new BadAuthzenRequest(`evaluations[${i}] must be a JSON object`);
    const merged: Json = {};
    for (const key of ["subject", "action", "resource", "context"]) {
      const value = item[key] ?? body[key];
      if (value !== undefined) merged[key] = value;
    }
    return checkedEvaluation(merged, `evaluations[${i}]`);
  });
}

/** `options.evaluations_semantic`, execute_all when absent. */
export function semanticOf(body: Json): EvaluationsSemantic {
  const options = body.options;
  if (options === undefined) return "execute_all";
  if (!isObject(options)) throw new BadAuthzenRequest('"options" must be an object');
  const semantic = options.evaluations_semantic ?? "execute_all";
  if (!EVALUATIONS_SEMANTICS.includes(semantic as EvaluationsSemantic)) {
    throw new BadAuthzenRequest(`"options.evaluations_semantic" must be one of ${EVALUATIONS_SEMANTICS.join(", ")}`);
  }
  return semantic as EvaluationsSemantic;
}

export const isJsonObject = isObject;
