import type { TraceNode } from "../../authz/check-trace.js";
import type { ApiKeyType, OrgRole, TeamRole } from "../../db/database.js";

/**
 * What a SpiceDB check trace says, in the schema's words turned into facts (no names yet:
 * explain.service.ts names only what the caller may view). SpiceDB's trace has no operators
 * (a union and an intersection both list their branches) and may leave out a branch it did not
 * need, so the walk reads it by meaning rather than by shape:
 * - allowed: the leaves of every branch that answered yes are what granted it (both sides of an
 *   intersection answer yes, so a key's type and its scope both appear);
 * - denied: what the subject holds (the yes-leaves anywhere) and the caveats that said no or
 *   could not be evaluated.
 */
export type ExplainStep =
  | { kind: "org_role"; role: OrgRole }
  | { kind: "team_role"; role: TeamRole; teamId: string }
  | { kind: "custom_role"; roleId: string; teamId: string }
  | { kind: "key_type"; type: ApiKeyType }
  | { kind: "key_unscoped"; over: "environment" | "model" }
  | { kind: "key_scoped_here"; over: "environment" | "model"; id: string }
  | { kind: "key_out_of_scope"; over: "environment" | "model"; keyId: string; teamId: string }
  | { kind: "environment_unrestricted" }
  | { kind: "environment_grant"; environmentId: string }
  | { kind: "environment_restricted"; environmentId: string }
  | { kind: "chain_share"; access: "VIEWER" | "RUNNER" | "EDITOR" }
  | { kind: "self" }
  | { kind: "caveat"; name: string; outcome: "false" | "missing_context" }
  | { kind: "ip_admitted" }
  | { kind: "relation"; type: string; name: string };

const ORG_ROLES: Record<string, OrgRole> = { admin: "ADMIN", billing_admin: "BILLING_ADMIN", member: "MEMBER" };
const TEAM_ROLES: Record<string, TeamRole> = { admin: "ADMIN", member: "MEMBER", operator: "OPERATOR", viewer: "VIEWER" };
const KEY_TYPES: Record<string, ApiKeyType> = { full_access_key: "FULL_ACCESS", inference_key: "INFERENCE_ONLY", metrics_key: "METRICS_ONLY" };
const CHAIN_SHARES: Record<string, "VIEWER" | "RUNNER" | "EDITOR"> = { viewer: "VIEWER", runner: "RUNNER", editor: "EDITOR" };

/** A yes-leaf of the trace as a fact. */
function leafStep(node: TraceNode): ExplainStep {
  const { type, id } = node.resource;
  if (type === "organization" && ORG_ROLES[node.name]) return { kind: "org_role", role: ORG_ROLES[node.name]! };
  if (type === "team" && TEAM_ROLES[node.name]) return { kind: "team_role", role: TEAM_ROLES[node.name]!, teamId: id };
  if (type === "team" && KEY_TYPES[node.name]) return { kind: "key_type", type: KEY_TYPES[node.name]! };
  if (type === "team" && node.name === "env_unscoped_key") return { kind: "key_unscoped", over: "environment" };
  if (type === "team" && node.name === "model_unscoped_key") return { kind: "key_unscoped", over: "model" };
  if ((type === "environment" || type === "model") && node.name === "scoped_key") return { kind: "key_scoped_here", over: type, id };
  if (type === "environment" && node.name === "unrestricted") return { kind: "environment_unrestricted" };
  if (type === "environment" && node.name === "grantee") return { kind: "environment_grant", environmentId: id };
  if (type === "chain" && CHAIN_SHARES[node.name]) return { kind: "chain_share", access: CHAIN_SHARES[node.name]! };
  if (type === "user" && node.name === "self") return { kind: "self" };
  return { kind: "relation", type, name: node.name };
}

/**
 * The IP allowlist gate (schema.zed `ip_allowed`) said yes: a step only when a list applies (the
 * relationship carries the caveat); a scope without a list admits every address and says nothing.
 */
const ipAllowlistStep = (node: TraceNode): ExplainStep[] => (node.caveat ? [{ kind: "ip_admitted" }] : []);

/** A custom role's binding (`roleId|teamId`) is one step: the role, on its team. */
function bindingStep(node: TraceNode): ExplainStep {
  const [roleId = "", teamId = ""] = node.resource.id.split("|");
  return { kind: "custom_role", roleId, teamId };
}

/**
 * Whether `node` answered yes: SpiceDB marks a subproblem whose caveat held (the IP allowlist
 * admitting the address) CONDITIONAL with the caveat's outcome true, so that counts as yes too.
 */
const said = (node: TraceNode) => node.result === "has" || (node.result === "conditional" && node.caveat?.outcome === "true");

/** The facts that made `node` answer yes. */
function grants(node: TraceNode): ExplainStep[] {
  if (!said(node)) return [];
  if (node.resource.type === "role_binding") return [bindingStep(node)];
  const granting = node.children.filter(said);
  if (granting.length === 0) return node.name === "ip_allowed" ? ipAllowlistStep(node) : [leafStep(node)];
  return granting.flatMap(grants);
}

/** Everything the subject holds somewhere in the tree, whether or not it sufficed. */
function held(node: TraceNode): ExplainStep[] {
  if (said(node)) return grants(node);
  // A binding that names the subject but whose role lacks the permission is still held.
  if (node.resource.type === "role_binding" && node.children.some((c) => c.name === "assignee" && said(c))) return [bindingStep(node)];
  return node.children.flatMap(held);
}

/**
 * The caveats that stopped a denied tree (said no, or lacked their context). The other gates
 * (a key's scope, a restricted environment) are asked for directly (explain-gates.ts): the
 * trace leaves out a branch SpiceDB did not need, so reading them from it would vary.
 */
function caveats(node: TraceNode): ExplainStep[] {
  if (said(node)) return [];
  const own = node.caveat && (node.caveat.outcome === "false" || node.caveat.outcome === "missing_context") ? [{ kind: "caveat" as const, name: node.caveat.name, outcome: node.caveat.outcome }] : [];
  return [...own, ...node.children.flatMap(caveats)];
}

const ORDER: ExplainStep["kind"][] = [
  "self", "org_role", "team_role", "custom_role", "chain_share", "key_type", "key_unscoped", "key_scoped_here",
  "environment_unrestricted", "environment_grant", "ip_admitted", "relation", "environment_restricted", "key_out_of_scope", "caveat",
];

/** Distinct steps, in one stable order (a trace's branch order varies from call to call). */
function tidy(steps: ExplainStep[]): ExplainStep[] {
  const seen = new Map<string, ExplainStep>();
  for (const step of steps) seen.set(JSON.stringify(step), step);
  return [...seen.values()].sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
}

export interface TraceReading {
  /** Allowed: what granted it. Denied: what the subject holds that did not suffice. */
  held: ExplainStep[];
  /** Denied only: the caveats that stopped it. */
  caveats: ExplainStep[];
}

export function readTrace(trace: TraceNode | undefined, allowed: boolean): TraceReading {
  if (!trace) return { held: [], caveats: [] };
  if (allowed) return { held: tidy(grants(trace)), caveats: [] };
  return { held: tidy(held(trace)), caveats: tidy(caveats(trace)) };
}

export const tidySteps = tidy;
