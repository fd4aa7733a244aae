import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // No foreign keys: the log outlives what it speaks of (deleted teams, removed members).
  await db.schema
    .createTable("audit_events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("chain", "text", (c) => c.notNull())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("org_id", "text")
    .addColumn("team_id", "text")
    .addColumn("at", "timestamptz", (c) => c.notNull())
    .addColumn("actor_id", "text")
    .addColumn("auth_method", "text")
    .addColumn("auth_ref", "text")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("target_id", "text")
    .addColumn("result", "text", (c) => c.notNull().check(sql`result in ('SUCCESS', 'DENIED', 'ERROR')`))
    .addColumn("error", "text")
    .addColumn("diff", "jsonb")
    .addColumn("request_id", "text")
    .addColumn("prev_hash", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .addUniqueConstraint("audit_events_chain_seq", ["chain", "seq"])
    .execute();
  await db.schema.createIndex("audit_events_org").on("audit_events").columns(["org_id", "id"]).execute();
  await db.schema.createIndex("audit_events_team").on("audit_events").columns(["team_id", "id"]).execute();

  // Append-only: rows can be inserted, never changed or removed. (A table owner can drop
  // these triggers: run the API as a role without UPDATE, DELETE and TRUNCATE on the table; see README.)
  await sql`
    create function audit_events_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_events is append-only: % refused', tg_op;
    end;
    $$`.execute(db);
  await sql`create trigger audit_events_no_update_delete before update or delete on audit_events
    for each row execute function audit_events_append_only()`.execute(db);
  await sql`create trigger audit_events_no_truncate before truncate on audit_events
    for each statement execute function audit_events_append_only()`.execute(db);

  await db.schema
    .createTable("roles")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("org_id", "text", (c) => c.notNull().references("organizations.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("permissions", "jsonb", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("roles_org_name", ["org_id", "name"])
    .execute();
  await db.schema
    .createTable("role_assignments")
    .addColumn("role_id", "text", (c) => c.notNull().references("roles.id").onDelete("cascade"))
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("principal_id", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("role_assignments_pk", ["role_id", "team_id", "principal_id"])
    .execute();
  await db.schema.createIndex("role_assignments_principal").on("role_assignments").column("principal_id").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("role_assignments").execute();
  await db.schema.dropTable("roles").execute();
  await db.schema.dropTable("audit_events").execute();
  await sql`drop function audit_events_append_only`.execute(db);
}
