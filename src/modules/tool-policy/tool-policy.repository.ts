import { sql } from "kysely";
import type { Db, Row, Sensitivity, Tx } from "../../db/database.js";

export type ToolPolicyRow = Row<"tool_policies">;
export interface RuleValues { role: string; customRoleId: string | null; allowedTools: string[]; deniedTools: string[]; maxSensitivity: Sensitivity | null }
export interface PhiRoleValues { role: string; customRoleId: string | null }

export const listRuleRows = (db: Db | Tx, teamId: string) => db.selectFrom("tool_policies").selectAll().where("team_id", "=", teamId).orderBy("role").execute();

export const listPhiRoleRows = (db: Db | Tx, teamId: string) =>
  db.selectFrom("tool_policy_phi_roles").select("role").where("team_id", "=", teamId).orderBy("role").execute();

export const upsertRule = (tx: Tx, teamId: string, rule: RuleValues) => {
  const values = {
    allowed_tools: JSON.stringify(rule.allowedTools),
    denied_tools: JSON.stringify(rule.deniedTools),
    max_sensitivity: rule.maxSensitivity,
  };
  return tx
    .insertInto("tool_policies")
    .values({ team_id: teamId, role: rule.role, custom_role_id: rule.customRoleId, ...values })
    .onConflict((c) => c.columns(["team_id", "role"]).doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
};

/** False when the role had no rule on the team. */
export async function deleteRule(tx: Tx, teamId: string, role: string): Promise<boolean> {
  const deleted = await tx.deleteFrom("tool_policies").where("team_id", "=", teamId).where("role", "=", role).executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}

export async function replacePhiRoles(tx: Tx, teamId: string, roles: PhiRoleValues[]): Promise<void> {
  await tx.deleteFrom("tool_policy_phi_roles").where("team_id", "=", teamId).execute();
  if (roles.length > 0) {
    await tx.insertInto("tool_policy_phi_roles").values(roles.map((r) => ({ team_id: teamId, role: r.role, custom_role_id: r.customRoleId }))).execute();
  }
}

export async function replaceRules(tx: Tx, teamId: string, rules: RuleValues[]): Promise<void> {
  await tx.deleteFrom("tool_policies").where("team_id", "=", teamId).execute();
  for (const rule of rules) await upsertRule(tx, teamId, rule);
}

export interface HeldRoleRow { key: string; kind: "team" | "org_admin" | "custom" | "key"; name: string }

/**
 * Every role `principalId` holds on the team, in one round trip (the gateway's hot path): its
 * built-in team role, ADMIN when it is an ADMIN of the team's organization, its custom roles
 * there, and a team key's type. Ids are typed by prefix (usr_, sa_, key_), so each branch
 * matches only its own kind of principal.
 */
export async function listHeldRoles(db: Db, teamId: string, principalId: string): Promise<HeldRoleRow[]> {
  const { rows } = await sql<HeldRoleRow>`
    select role as key, 'team' as kind, role as name from team_memberships where team_id = ${teamId} and principal_id = ${principalId}
    union all
    select 'ADMIN', 'org_admin', 'ADMIN' from org_memberships m join teams t on t.org_id = m.org_id
      where t.id = ${teamId} and m.user_id = ${principalId} and m.role = 'ADMIN'
    union all
    select r.id, 'custom', r.name from role_assignments a join roles r on r.id = a.role_id
      where a.team_id = ${teamId} and a.principal_id = ${principalId}
    union all
    select type, 'key', type from api_keys where id = ${principalId} and team_id = ${teamId} and kind = 'TEAM' and type is not null
  `.execute(db);
  return rows;
}
