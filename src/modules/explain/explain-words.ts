import { ref } from "../../authz/model.js";
import type { AppContext } from "../../context.js";
import { apiKeyById, scopedEnvironments, scopedModels } from "../api-key/api-key.service.js";
import { environmentById } from "../environment/environment.service.js";
import { modelById } from "../model/model.service.js";
import { roleById } from "../role/role.service.js";
import { teamById } from "../team/team.service.js";
import type { ExplainStep } from "./explain-path.js";

/**
 * The steps of an explanation in words. Names (of teams, roles, environments, models) are read
 * from Postgres and shown only where the caller may view the object, by the same permission
 * that gates it elsewhere: a team by browse, a custom role by the organization's roles:manage
 * (as the Role type), an environment or model by view. Anything else reads "… you cannot view",
 * so an explanation never names what its reader may not see.
 */
export async function describeSteps(ctx: AppContext, steps: ExplainStep[]): Promise<string[]> {
  return Promise.all(steps.map((step) => describe(ctx, step)));
}

export const nothingGrants = (permission: string) => `no role, key or grant gives ${permission}`;

const KEY_TYPE = { FULL_ACCESS: "FULL_ACCESS key", INFERENCE_ONLY: "INFERENCE_ONLY key", METRICS_ONLY: "METRICS_ONLY key" } as const;

const CAVEATS: Record<string, { false: string; missing_context: string }> = {
  ip_allowlist: { false: "IP not in allowlist", missing_context: "IP allowlist applies and the client address is unknown" },
};

/** A caveat that denied, generically: the IP allowlist's in its own words, any other by its name. */
export function describeCaveat(step: Extract<ExplainStep, { kind: "caveat" }>): string {
  return CAVEATS[step.name]?.[step.outcome] ?? (step.outcome === "false" ? `condition ${step.name} not met` : `condition ${step.name} could not be evaluated (missing context)`);
}

async function describe(ctx: AppContext, step: ExplainStep): Promise<string> {
  switch (step.kind) {
    case "org_role":
      return `org ${step.role}`;
    case "team_role":
      return `team ${step.role}`;
    case "custom_role":
      return `custom role ${await roleName(ctx, step.roleId)} on ${await teamName(ctx, step.teamId)}`;
    case "key_type":
      return KEY_TYPE[step.type];
    case "key_unscoped":
      return step.over === "environment" ? "key valid in every environment" : "key valid for every model";
    case "key_scoped_here":
      return `key scoped to ${step.over} ${await objectName(ctx, step.over, step.id)}`;
    case "key_out_of_scope":
      return keyScopeOnly(ctx, step.over, step.keyId);
    case "environment_unrestricted":
      return "environment unrestricted";
    case "environment_grant":
      return `granted access to restricted environment ${await objectName(ctx, "environment", step.environmentId)}`;
    case "environment_restricted":
      return "environment restricted: no grant";
    case "chain_share":
      return `chain shared as ${step.access}`;
    case "self":
      return "the user themselves";
    case "caveat":
      return describeCaveat(step);
    case "ip_admitted":
      return "IP allowlist admits this address";
    case "relation":
      return `${step.name} on ${step.type}`;
  }
}

async function teamName(ctx: AppContext, teamId: string): Promise<string> {
  const [visible, team] = await Promise.all([ctx.authz.can(ref("team", teamId), "browse"), teamById(ctx.db, teamId)]);
  return visible && team ? `team ${team.name}` : "a team you cannot view";
}

async function roleName(ctx: AppContext, roleId: string): Promise<string> {
  const role = await roleById(ctx.db, roleId);
  if (!role || !(await ctx.authz.can(ref("organization", role.org_id), "roles_manage"))) return "(a role you cannot view)";
  return role.name;
}

async function objectName(ctx: AppContext, type: "environment" | "model", id: string): Promise<string> {
  const [visible, row] = await Promise.all([ctx.authz.can(ref(type, id), "view"), type === "environment" ? environmentById(ctx.db, id) : modelById(ctx.db, id)]);
  return visible && row ? row.name : `(${type === "environment" ? "an environment" : "a model"} you cannot view)`;
}

/** "key scoped to staging only": the key's scope, each name shown only where the caller views it. */
async function keyScopeOnly(ctx: AppContext, over: "environment" | "model", keyId: string): Promise<string> {
  const key = await apiKeyById(ctx.db, keyId);
  if (!key) return `key not scoped to this ${over}`;
  const rows: { id: string; name: string }[] = over === "environment" ? await scopedEnvironments(ctx, key) : await scopedModels(ctx, key);
  const visible = await ctx.authz.filter(rows, (row) => ref(over, row.id), "view");
  const hidden = rows.length - visible.length;
  const names = [...visible.map((row) => row.name), ...(hidden > 0 ? [`${hidden} ${over}${hidden > 1 ? "s" : ""} you cannot view`] : [])];
  if (names.length === 0) return over === "environment" ? "key scoped to no environment of this team" : "key scoped to no model of this team";
  return over === "environment" ? `key scoped to ${names.join(", ")} only` : `key scoped to models ${names.join(", ")} only`;
}
