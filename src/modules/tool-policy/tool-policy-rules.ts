import type { Sensitivity } from "../../db/database.js";

/**
 * The runtime tool policy's rules (issue 14 §3, after Keeptrusts' runtime rbac policy), pure:
 * no I/O, so the gateway, the GraphQL validation and the offline linter share them.
 *
 * - Tools: a tool is allowed iff some role of the caller allows it (a glob of its
 *   `allowedTools`) and none denies it (a glob of its `deniedTools`): deny wins, within a role
 *   and across the caller's roles. A role with no rule allows no tool (fail closed).
 * - Sensitivity: allowed iff some role's ceiling is at or above the request's. A role without
 *   a ceiling (no rule, or a rule without `maxSensitivity`) reaches PUBLIC only.
 * - PHI: with minimum-necessary on (some PHI roles), only those roles may touch data marked
 *   PHI; with it off, PHI is bounded only by the sensitivity ceiling (Keeptrusts' semantics).
 */
export const SENSITIVITIES = ["PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED"] as const satisfies readonly Sensitivity[];
export const MAX_GLOBS = 100;
export const MAX_GLOB_LENGTH = 200;

export interface ToolRule {
  role: string;
  allowedTools: string[];
  deniedTools: string[];
  maxSensitivity: Sensitivity | null;
}

export interface TeamPolicy {
  rules: ToolRule[];
  phiRoles: string[];
}

/** A role the caller holds on the team: its key in the policy and how answers name it. */
export interface HeldRole {
  key: string;
  label: string;
}

export interface ToolQuestion {
  tool?: string;
  sensitivity?: Sensitivity;
  phi?: boolean;
}

export type ToolVerdict = { allowed: true; rule: string } | { allowed: false; reason: string; rule: string };

/** Tool names as gateways send them (MCP-style names); no slash, so `*` means every tool. */
const TOOL_NAME = /^[A-Za-z0-9_.:-]{1,200}$/;
/**
 * A glob is a tool name with wildcards: `*` (any run of characters, none included) and `?` (one
 * character). Nothing else (no brackets, braces or extglobs): with two wildcards only, matching
 * (`globMatches`) is a linear scan without backtracking, so no glob can make a decision slow — a
 * regex-compiled glob such as `*a*a*a*a*a*ab` backtracks exponentially on a long tool name.
 */
const GLOB = /^[A-Za-z0-9_.:\-*?]+$/;

export const validToolName = (name: string) => TOOL_NAME.test(name);

/** Why `glob` is not a valid tool glob, or undefined when it is. */
export function globProblem(glob: string): string | undefined {
  if (glob.length === 0) return "a glob cannot be empty";
  if (glob.length > MAX_GLOB_LENGTH) return `a glob is at most ${MAX_GLOB_LENGTH} characters`;
  if (!GLOB.test(glob)) return `"${glob}" is not a valid glob (only letters, digits, _ . : - and the wildcards * and ?)`;
  return undefined;
}

/** Problems of a glob list (at most MAX_GLOBS), each with its index. */
export function globListProblems(globs: string[]): { index?: number; message: string }[] {
  const problems: { index?: number; message: string }[] = [];
  if (globs.length > MAX_GLOBS) problems.push({ message: `at most ${MAX_GLOBS} globs` });
  globs.forEach((glob, index) => {
    const problem = globProblem(glob);
    if (problem) problems.push({ index, message: problem });
  });
  return problems;
}

/**
 * Whether `tool` matches `glob` (`*` any run, `?` one character), in O(glob × tool) at worst:
 * the classic two-pointer match that, on a mismatch, only moves the last `*` one character on.
 * Deny globs match regardless of case (`delete_*` denies `DELETE_users`: a tool server may not
 * tell them apart), allow globs exactly.
 */
export function globMatches(glob: string, tool: string, ignoreCase = false): boolean {
  const g = ignoreCase ? glob.toLowerCase() : glob;
  const t = ignoreCase ? tool.toLowerCase() : tool;
  let gi = 0;
  let ti = 0;
  let star = -1;
  let resume = 0;
  while (ti < t.length) {
    if (gi < g.length && (g[gi] === "?" || g[gi] === t[ti])) {
      gi++;
      ti++;
    } else if (gi < g.length && g[gi] === "*") {
      star = gi++;
      resume = ti;
    } else if (star >= 0) {
      gi = star + 1;
      ti = ++resume;
    } else {
      return false;
    }
  }
  while (gi < g.length && g[gi] === "*") gi++;
  return gi === g.length;
}

const rank = (s: Sensitivity | null) => (s === null ? 0 : SENSITIVITIES.indexOf(s));

/** The policy's answer for a caller holding `roles` (in the order answers prefer them). */
export function evaluate(policy: TeamPolicy, roles: HeldRole[], question: ToolQuestion): ToolVerdict {
  const ruleOf = new Map(policy.rules.map((rule) => [rule.role, rule]));
  const held = roles.map((role) => ({ ...role, rule: ruleOf.get(role.key) }));
  const decided: string[] = [];
  const names = held.map((r) => r.label).join(", ") || "none";

  if (question.tool !== undefined) {
    const tool = question.tool;
    for (const role of held) {
      const glob = role.rule?.deniedTools.find((g) => globMatches(g, tool, true));
      if (glob !== undefined) return { allowed: false, reason: `The tool "${tool}" is denied by the team's tool policy`, rule: `${role.label} denies ${glob}` };
    }
    const allowing = held.map((role) => ({ role, glob: role.rule?.allowedTools.find((g) => globMatches(g, tool)) })).find((x) => x.glob !== undefined);
    if (!allowing) {
      const rule = held.some((r) => r.rule) ? `no role allows ${tool} (roles: ${names})` : `no tool policy for the caller's roles (${names}): no tools`;
      return { allowed: false, reason: `The tool "${tool}" is not allowed by the team's tool policy`, rule };
    }
    decided.push(`${allowing.role.label} allows ${allowing.glob}`);
  }

  if (question.sensitivity !== undefined) {
    const asked = question.sensitivity;
    const reaching = held.find((role) => rank(role.rule?.maxSensitivity ?? null) >= rank(asked));
    if (!reaching) {
      const best = held.reduce<(typeof held)[number] | undefined>((top, r) => (!top || rank(r.rule?.maxSensitivity ?? null) > rank(top.rule?.maxSensitivity ?? null) ? r : top), undefined);
      const ceiling = best?.rule?.maxSensitivity ? `${best.label} reaches ${best.rule.maxSensitivity}` : "no role has a ceiling: PUBLIC only";
      return { allowed: false, reason: `Data of sensitivity ${asked} is above the caller's ceiling`, rule: `no role reaches ${asked} (${ceiling})` };
    }
    decided.push(reaching.rule?.maxSensitivity ? `${reaching.label} reaches ${reaching.rule.maxSensitivity}` : "PUBLIC needs no ceiling");
  }

  if (question.phi === true && policy.phiRoles.length > 0) {
    const phiRole = held.find((role) => policy.phiRoles.includes(role.key));
    if (!phiRole) return { allowed: false, reason: "PHI is restricted to the team's minimum-necessary roles", rule: `minimum necessary: no role of the caller may touch PHI (roles: ${names})` };
    decided.push(`minimum necessary: ${phiRole.label} may touch PHI`);
  } else if (question.phi === true) {
    // Off: PHI is bounded by the sensitivity ceiling — so it takes a role whose policy reaches above PUBLIC (fail closed).
    const ceilinged = held.find((role) => rank(role.rule?.maxSensitivity ?? null) > 0);
    if (!ceilinged) return { allowed: false, reason: "PHI needs a role whose tool policy reaches above PUBLIC", rule: `minimum necessary is off and no role of the caller has a ceiling above PUBLIC (roles: ${names})` };
    decided.push(`minimum necessary is off: PHI bounded by sensitivity (${ceilinged.label} reaches ${ceilinged.rule!.maxSensitivity})`);
  } else if (question.phi === false && decided.length === 0) {
    decided.push("not PHI: minimum necessary does not apply");
  }
  return { allowed: true, rule: decided.join("; ") };
}
