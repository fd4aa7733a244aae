import type { Reference } from "./attacker-reference.js";
import type { Attempt, Step } from "./attacker-steps.js";

/**
 * The attacker model's tool-policy steps (issue 14 §3): set or delete a role's rule, set the
 * PHI roles, replace the policy from a YAML document, on teams of both organizations and a
 * nonexistent one. The reference: all four need team#manage (built-in team ADMIN, org ADMIN:
 * NOT_FOUND when the caller cannot view the team, FORBIDDEN when it can); a role must be a
 * built-in team role or key type (any case) or a custom role of the team's organization (one
 * of the other organization's, or none, is invalid), globs must parse, and a document must be
 * a valid rbac block. None changes anyone's permissions in SpiceDB.
 */
export const TOOL_POLICY_OPS = ["setToolPolicy", "deleteToolPolicy", "setPhiRoles", "setToolPolicyDocument"] as const;
type ToolPolicyOp = (typeof TOOL_POLICY_OPS)[number];
export const isToolPolicyOp = (op: string): op is ToolPolicyOp => (TOOL_POLICY_OPS as readonly string[]).includes(op);

const GHOST_ROLE = `role_${"0".repeat(28)}`;
const GLOBS = [["search", "report_*"], ["*"], ["[unclosed"], ["dangerous_*"], []];
const DOCUMENTS: [string, boolean][] = [
  ["roles:\n  member:\n    allowed_tools: [search]\n    denied_tools: [dangerous_*]\ndata_access:\n  MEMBER: { max_sensitivity: internal }\n", true],
  ["policies:\n  chain: [rbac]\npolicy:\n  rbac:\n    require_auth: true\n    roles:\n      ADMIN: { allowed_tools: ['*'] }\n    minimum_necessary: { enabled: true, allowed_phi_roles: [admin] }\n", true],
  ["roles:\n  MEMBER:\n    allowed_tools: ['[x']\n", false],
  ["roles:\n  nobody-at-all:\n    allowed_tools: [search]\n", false],
  ["roles: [\n", false],
];

export function planToolPolicyStep(step: Step, ref: Reference, team: string, teamTarget: NonNullable<Attempt["target"]>, manages: boolean): Attempt {
  const pick = <T>(items: T[], index: number): T => items[index % items.length]!;
  const decide = (permitted: boolean, valid: boolean): Attempt["allowed"] => (permitted ? (valid ? "yes" : "invalid") : valid ? "no" : "refused");
  const teamOrg = ref.object(team)?.org;
  const role = pick(["MEMBER", "inference_only", "SUPERUSER", ...ref.rolePerms.keys(), GHOST_ROLE], step.principal);
  const validRole = ["MEMBER", "inference_only"].includes(role) || (!!teamOrg && ref.rolePerms.get(role)?.org === teamOrg);
  const common = { target: teamTarget, apply: () => {}, harmless: true };
  const op = step.op as ToolPolicyOp;

  if (op === "setToolPolicy") {
    const allowed = pick(GLOBS, step.choice);
    const denied = pick(GLOBS, step.choice >> 3);
    const valid = validRole && ![...allowed, ...denied].includes("[unclosed");
    return {
      query: `mutation($t: ID!, $r: String!, $a: [String!]!, $d: [String!]!, $s: Sensitivity) { setToolPolicy(teamId: $t, role: $r, allowedTools: $a, deniedTools: $d, maxSensitivity: $s) { role } }`,
      variables: { t: team, r: role, a: allowed, d: denied, s: pick(["PUBLIC", "CONFIDENTIAL", null], step.choice >> 6) },
      allowed: decide(manages, valid), ...common,
    };
  }
  if (op === "deleteToolPolicy") {
    return { query: `mutation($t: ID!, $r: String!) { deleteToolPolicy(teamId: $t, role: $r) }`, variables: { t: team, r: role }, allowed: decide(manages, validRole), ...common };
  }
  if (op === "setPhiRoles") {
    const roles = step.choice % 3 === 0 ? [] : ["ADMIN", role];
    return { query: `mutation($t: ID!, $r: [String!]!) { setPhiRoles(teamId: $t, roles: $r) }`, variables: { t: team, r: roles }, allowed: decide(manages, roles.length === 0 || validRole), ...common };
  }
  const [document, valid] = pick(DOCUMENTS, step.choice);
  return {
    query: `mutation($t: ID!, $d: String!) { setToolPolicyDocument(teamId: $t, document: $d) { document } }`,
    variables: { t: team, d: document }, allowed: decide(manages, valid), ...common,
  };
}
