import type { Principal } from "../../auth/principal.js";
import type { AppContext } from "../../context.js";
import type { Db, Sensitivity } from "../../db/database.js";
import { badInput } from "../../errors.js";
import { typeOfId } from "../../ids.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { listRoles, roleById } from "../role/role.service.js";
import { getBrowsableTeam, teamRef, type Team } from "../team/team.service.js";
import { builtInRole, parseToolPolicyDocument, renderToolPolicyDocument, type Problem } from "./tool-policy-document.js";
import { deleteRule, listHeldRoles, listPhiRoleRows, listRuleRows, replacePhiRoles, replaceRules, upsertRule, type RuleValues } from "./tool-policy.repository.js";
import { evaluate, globListProblems, MAX_GLOBS, type HeldRole, type TeamPolicy, type ToolQuestion, type ToolRule, type ToolVerdict } from "./tool-policy-rules.js";

/**
 * A team's runtime tool policy (issue 14 §3): rules per role, minimum-necessary PHI roles, and
 * the same as a YAML document. Team ADMINs (org ADMINs among them: team#manage) set it;
 * whoever views the team reads it; the gateway applies it (`toolPolicyVerdict`). Every change
 * goes through writeTransaction, so cached gateway decisions drop before it is acknowledged.
 */
export interface TeamToolPolicy extends TeamPolicy { document: string }

/** NOT_FOUND when the caller cannot reach the team (as for a nonexistent one), FORBIDDEN without team#manage. */
async function manageableTeam(ctx: AppContext, teamId: string): Promise<Team> {
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "manage");
  return team;
}

interface ResolvedRole { role: string; customRoleId: string | null }

/** A built-in role or key type (any case), or a custom role id of the team's organization; another org's id answers as a nonexistent one. */
async function resolveRole(ctx: AppContext, team: Team, role: string, field: string): Promise<ResolvedRole> {
  const builtIn = builtInRole(role);
  if (builtIn) return { role: builtIn, customRoleId: null };
  const custom = typeOfId(role) === "Role" ? await roleById(ctx.db, role) : undefined;
  if (custom?.org_id !== team.org_id) throw badInput(`${field}: no such role (a built-in team role, an API key type, or the id of a custom role of the team's organization)`);
  return { role: custom.id, customRoleId: custom.id };
}

function validGlobs(globs: string[], field: string): string[] {
  const problems = globListProblems(globs);
  if (problems.length > 0) throw badInput(`${field}: ${problems.map((p) => (p.index === undefined ? p.message : `[${p.index}] ${p.message}`)).join("; ")}`);
  return [...new Set(globs)];
}

const toRule = (row: { role: string; allowed_tools: string[]; denied_tools: string[]; max_sensitivity: Sensitivity | null }): ToolRule => ({
  role: row.role,
  allowedTools: row.allowed_tools,
  deniedTools: row.denied_tools,
  maxSensitivity: row.max_sensitivity,
});

/** By code point, whatever the database's collation: built-in names, then custom role ids. */
const byRole = (a: { role: string }, b: { role: string }) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0);

async function loadPolicy(db: Db, teamId: string): Promise<TeamPolicy> {
  const [rules, phi] = await Promise.all([listRuleRows(db, teamId), listPhiRoleRows(db, teamId)]);
  return { rules: rules.map(toRule).sort(byRole), phiRoles: phi.sort(byRole).map((r) => r.role) };
}

/** The team's policy with its YAML document (custom roles by name). The caller has checked team#view. */
export async function getToolPolicy(ctx: AppContext, team: Team): Promise<TeamToolPolicy> {
  const policy = await loadPolicy(ctx.db, team.id);
  const custom = [...policy.rules.map((r) => r.role), ...policy.phiRoles].some((role) => !builtInRole(role));
  const names = new Map(custom ? (await listRoles(ctx.db, team.org_id)).map((r) => [r.id, r.name]) : []);
  // By name, unless the name reads as a built-in role in YAML (a custom role "Admin"): then by id, so the document sets the same policy again.
  const name = (role: string) => {
    const named = names.get(role);
    return named !== undefined && !builtInRole(named) ? named : role;
  };
  const document = renderToolPolicyDocument(policy.rules.map((r) => ({ ...r, name: name(r.role) })), policy.phiRoles.map(name));
  return { ...policy, document };
}

export async function setToolPolicy(
  ctx: AppContext,
  teamId: string,
  role: string,
  allowedTools: string[],
  deniedTools: string[],
  maxSensitivity: Sensitivity | null,
): Promise<ToolRule> {
  const team = await manageableTeam(ctx, teamId);
  const resolved = await resolveRole(ctx, team, role, "role");
  const rule: RuleValues = { ...resolved, allowedTools: validGlobs(allowedTools, "allowedTools"), deniedTools: validGlobs(deniedTools, "deniedTools"), maxSensitivity };
  const before = (await loadPolicy(ctx.db, teamId)).rules.find((r) => r.role === resolved.role) ?? null;
  describeAudit(ctx, { orgId: team.org_id, teamId, targetId: teamId, diff: { role: resolved.role, before, after: { allowedTools: rule.allowedTools, deniedTools: rule.deniedTools, maxSensitivity } } });
  return writeTransaction(ctx, async (tx) => toRule(await upsertRule(tx, teamId, rule)));
}

/** True when the role had a rule (it then has none: no tools). */
export async function deleteToolPolicy(ctx: AppContext, teamId: string, role: string): Promise<boolean> {
  const team = await manageableTeam(ctx, teamId);
  const resolved = await resolveRole(ctx, team, role, "role");
  const before = (await loadPolicy(ctx.db, teamId)).rules.find((r) => r.role === resolved.role) ?? null;
  describeAudit(ctx, { orgId: team.org_id, teamId, targetId: teamId, diff: { role: resolved.role, before } });
  return writeTransaction(ctx, (tx) => deleteRule(tx, teamId, resolved.role));
}

/** The roles that alone may touch PHI; none turns minimum-necessary off. */
export async function setPhiRoles(ctx: AppContext, teamId: string, roles: string[]): Promise<string[]> {
  const team = await manageableTeam(ctx, teamId);
  if (roles.length > MAX_GLOBS) throw badInput(`roles: at most ${MAX_GLOBS}`);
  const resolved = [...new Map((await Promise.all(roles.map((r, i) => resolveRole(ctx, team, r, `roles[${i}]`)))).map((r) => [r.role, r])).values()].sort(byRole);
  const before = (await loadPolicy(ctx.db, teamId)).phiRoles;
  describeAudit(ctx, { orgId: team.org_id, teamId, targetId: teamId, diff: { phiRoles: { before, after: resolved.map((r) => r.role) } } });
  await writeTransaction(ctx, (tx) => replacePhiRoles(tx, teamId, resolved));
  return resolved.map((r) => r.role);
}

const located = (p: Problem) => (p.line === undefined ? p.message : `line ${p.line}, column ${p.column}: ${p.message}`);

/** Replaces the team's whole policy from a YAML document; every error at once, line-numbered. */
export async function setToolPolicyDocument(ctx: AppContext, teamId: string, document: string): Promise<TeamToolPolicy> {
  const team = await manageableTeam(ctx, teamId);
  const parsed = parseToolPolicyDocument(document);
  const errors = parsed.problems.filter((p) => p.severity === "error");
  const roles = await listRoles(ctx.db, team.org_id);
  const byName = new Map(roles.map((r) => [r.name, r.id]));
  const ids = new Set(roles.map((r) => r.id));
  // A custom role by name, or by id (how the shown document names one whose name reads as a built-in).
  const resolve = (role: { name: string; builtIn: boolean; line: number; column: number }): ResolvedRole | undefined => {
    if (role.builtIn) return { role: role.name, customRoleId: null };
    const id = byName.get(role.name) ?? (ids.has(role.name) ? role.name : undefined);
    if (!id) errors.push({ severity: "error", line: role.line, column: role.column, message: `unknown role "${role.name}": not a built-in role, an API key type or a custom role of the organization` });
    return id ? { role: id, customRoleId: id } : undefined;
  };
  const rules = parsed.rules.flatMap((rule) => {
    const resolved = resolve({ ...rule.role, ...rule.role.at });
    return resolved ? [{ ...resolved, allowedTools: [...new Set(rule.allowedTools)], deniedTools: [...new Set(rule.deniedTools)], maxSensitivity: rule.maxSensitivity }] : [];
  });
  const phiRoles = [...new Map(parsed.phiRoles.flatMap((r) => resolve({ ...r, ...r.at }) ?? []).map((r) => [r.role, r])).values()];
  if (errors.length > 0) {
    errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    throw badInput(`document: ${errors.length} ${errors.length === 1 ? "error" : "errors"}: ${errors.map(located).join("; ")}`);
  }
  const before = await loadPolicy(ctx.db, teamId);
  describeAudit(ctx, {
    orgId: team.org_id,
    teamId,
    targetId: teamId,
    diff: { roles: { before: before.rules.map((r) => r.role), after: rules.map((r) => r.role) }, phiRoles: { before: before.phiRoles, after: phiRoles.map((r) => r.role) } },
  });
  await writeTransaction(ctx, async (tx) => {
    await replaceRules(tx, teamId, rules);
    await replacePhiRoles(tx, teamId, phiRoles);
  });
  return getToolPolicy(ctx, team);
}

const LABEL = { team: "role", org_admin: "role", custom: "custom role", key: "key type" } as const;
const ORDER = { team: 0, org_admin: 0, custom: 1, key: 2 } as const;

/**
 * For the gateway (no authorization here: SpiceDB has allowed the call): the policy's answer
 * for `principal` on the team. Two reads of the policy and one of the principal's roles, all
 * at once; the gateway caches the answer per stamp, so they run once per change.
 */
export async function toolPolicyVerdict(db: Db, principal: Principal, teamId: string, question: ToolQuestion): Promise<ToolVerdict> {
  const [policy, rows] = await Promise.all([loadPolicy(db, teamId), listHeldRoles(db, teamId, principal.id)]);
  const held = new Map<string, HeldRole & { order: number }>();
  for (const row of rows.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!held.has(row.key)) held.set(row.key, { key: row.key, label: `${LABEL[row.kind]} ${row.name}`, order: ORDER[row.kind] });
  }
  return evaluate(policy, [...held.values()], question);
}
