import picomatch from "picomatch";
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
/** What a glob may hold: the name characters and picomatch's own syntax (no slash, no space). */
const GLOB_CHARS = /^[A-Za-z0-9_.:\-*?[\]{}!,()|+@^]+$/;
const OPTIONS = { strictBrackets: true, dot: true } as const;

export const validToolName = (name: string) => TOOL_NAME.test(name);

/** Why `glob` is not a valid tool glob, or undefined when it is. */
export function globProblem(glob: string): string | undefined {
  if (glob.length === 0) return "a glob cannot be empty";
  if (glob.length > MAX_GLOB_LENGTH) return `a glob is at most ${MAX_GLOB_LENGTH} characters`;
  if (!GLOB_CHARS.test(glob)) return `"${glob}" may hold only letters, digits, _ . : - and glob syntax (* ? [ ] { } ! , ( ) | + @)`;
  try {
    picomatch.makeRe(glob, OPTIONS);
    return undefined;
  } catch (error) {
    return `"${glob}" is not a valid glob (${(error as Error).message.replace(/ - use .*$/, "")})`;
  }
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

// Compiled once per glob: a decision recomputed after every write compiles nothing new.
const compiled = new Map<string, (tool: string) => boolean>();
function matches(glob: string, tool: string): boolean {
  let matcher = compiled.get(glob);
  if (!matcher) {
    if (compiled.size >= 10_000) compiled.clear();
    matcher = picomatch(glob, OPTIONS);
    compiled.set(glob, matcher);
  }
  return matcher(tool);
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
      const glob = role.rule?.deniedTools.find((g) => matches(g, tool));
      if (glob !== undefined) return { allowed: false, reason: `The tool "${tool}" is denied by the team's tool policy`, rule: `${role.label} denies ${glob}` };
    }
    const allowing = held.map((role) => ({ role, glob: role.rule?.allowedTools.find((g) => matches(g, tool)) })).find((x) => x.glob !== undefined);
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
    decided.push("minimum necessary is off: PHI bounded by sensitivity only");
  } else if (question.phi === false && decided.length === 0) {
    decided.push("not PHI: minimum necessary does not apply");
  }
  return { allowed: true, rule: decided.join("; ") };
}
