import type { Principal } from "../../auth/principal.js";
import type { GatewayVerdict } from "../../authz/decision.js";
import type { AppDeps } from "../../context.js";
import { SENSITIVITIES, validToolName, type ToolQuestion } from "../tool-policy/tool-policy-rules.js";
import { toolPolicyVerdict } from "../tool-policy/tool-policy.service.js";

/**
 * The tool-policy stage of `/v1/authorize` (issue 14 §3): after SpiceDB's permission checks
 * have allowed the call, the team's tool policy decides on `tool`, `sensitivity` and `phi`.
 * A call with none of the three is a plain model call: the policy is not consulted.
 */
export type ToolFields = ToolQuestion;

/** The body's tool fields, or the message of a 400 when one is malformed. */
export function parseToolFields(body: Record<string, unknown>): { fields: ToolFields } | { error: string } {
  const { tool, sensitivity, phi } = body;
  const fields: ToolFields = {};
  if (tool !== undefined) {
    if (typeof tool !== "string" || !validToolName(tool)) return { error: '"tool" must be a tool name (1-200 letters, digits, _ . : -)' };
    fields.tool = tool;
  }
  if (sensitivity !== undefined) {
    const level = typeof sensitivity === "string" ? SENSITIVITIES.find((s) => s === sensitivity.toUpperCase()) : undefined;
    if (!level) return { error: `"sensitivity" must be one of ${SENSITIVITIES.join(", ")}` };
    fields.sensitivity = level;
  }
  if (phi !== undefined) {
    if (typeof phi !== "boolean") return { error: '"phi" must be true or false' };
    fields.phi = phi;
  }
  return { fields };
}

export const asksToolPolicy = (fields: ToolFields) => fields.tool !== undefined || fields.sensitivity !== undefined || fields.phi !== undefined;

/** The decision cache key's part for these fields (each answer depends on all three). */
export const toolQuestionKey = (fields: ToolFields) => [fields.tool ?? null, fields.sensitivity ?? null, fields.phi ?? null];

/** The allowed verdict narrowed by the policy: denied with the deciding rule, or allowed with it. */
export async function applyToolPolicy(deps: AppDeps, principal: Principal, allowed: GatewayVerdict & { team: { id: string } }, fields: ToolFields): Promise<GatewayVerdict> {
  const verdict = await toolPolicyVerdict(deps.db, principal, allowed.team.id, fields);
  if (!verdict.allowed) return { decision: { allowed: false, reason: verdict.reason, rule: verdict.rule }, outcome: "tool_policy" };
  return { ...allowed, decision: { allowed: true, rule: verdict.rule } };
}
