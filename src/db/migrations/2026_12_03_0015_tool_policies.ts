import type { Kysely } from "kysely";

/**
 * A team's runtime tool policy (issue 14 §3): one rule per role, and the roles that alone may
 * touch PHI ("minimum necessary"; none = off). `role` is a built-in team role, an API key
 * type, or a custom role's id; a custom role's rows carry its id in `custom_role_id` too, so
 * that deleting the role deletes them (a rule for a role that no longer exists grants nothing,
 * but a later role with a recycled name must not inherit it either).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("tool_policies")
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("custom_role_id", "text", (c) => c.references("roles.id").onDelete("cascade"))
    .addColumn("allowed_tools", "jsonb", (c) => c.notNull())
    .addColumn("denied_tools", "jsonb", (c) => c.notNull())
    .addColumn("max_sensitivity", "text")
    .addPrimaryKeyConstraint("tool_policies_pk", ["team_id", "role"])
    .execute();
  await db.schema
    .createTable("tool_policy_phi_roles")
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("custom_role_id", "text", (c) => c.references("roles.id").onDelete("cascade"))
    .addPrimaryKeyConstraint("tool_policy_phi_roles_pk", ["team_id", "role"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("tool_policy_phi_roles").execute();
  await db.schema.dropTable("tool_policies").execute();
}
