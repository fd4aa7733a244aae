import { sql, type Kysely } from "kysely";

/**
 * Chain runs get a lifecycle (issue 13): a status the database holds to the six values of
 * ChainRunStatus (existing QUEUED rows stay valid), the runtime's result, the question a
 * waiting run asks, and when it last changed; each human decision is kept in
 * chain_run_decisions. Chain definitions are versioned in chain_versions, starting from the
 * current definition of every existing chain as its version 1.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("chain_runs")
    .addCheckConstraint("chain_runs_status", sql`status in ('QUEUED', 'RUNNING', 'WAITING_FOR_APPROVAL', 'SUCCEEDED', 'FAILED', 'CANCELLED')`)
    .execute();
  await db.schema.alterTable("chain_runs").addColumn("result", "jsonb").execute();
  await db.schema.alterTable("chain_runs").addColumn("pending_decision", "text").execute();
  await db.schema.alterTable("chain_runs").addColumn("updated_at", "timestamptz").execute();
  await sql`update chain_runs set updated_at = created_at`.execute(db);
  await sql`alter table chain_runs alter column updated_at set not null, alter column updated_at set default now()`.execute(db);
  // Chain.runs and the export read a chain's runs newest first.
  await db.schema.createIndex("chain_runs_chain_id").on("chain_runs").columns(["chain_id", "id"]).execute();

  await db.schema
    .createTable("chain_run_decisions")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("run_id", "text", (c) => c.notNull().references("chain_runs.id").onDelete("cascade"))
    .addColumn("decided_by", "text", (c) => c.notNull())
    .addColumn("approve", "boolean", (c) => c.notNull())
    .addColumn("comment", "text")
    .addColumn("question", "text", (c) => c.notNull())
    .addColumn("decided_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex("chain_run_decisions_run_id").on("chain_run_decisions").columns(["run_id", "id"]).execute();

  await db.schema
    .createTable("chain_versions")
    .addColumn("chain_id", "text", (c) => c.notNull().references("chains.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("definition", "jsonb")
    .addColumn("changed_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("chain_versions_pkey", ["chain_id", "version"])
    .execute();
  await sql`insert into chain_versions (chain_id, version, definition, changed_by, created_at)
            select id, 1, definition, created_by, created_at from chains`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("chain_versions").execute();
  await db.schema.dropTable("chain_run_decisions").execute();
  await db.schema.dropIndex("chain_runs_chain_id").execute();
  await db.schema.alterTable("chain_runs").dropConstraint("chain_runs_status").execute();
  for (const column of ["updated_at", "pending_decision", "result"]) await db.schema.alterTable("chain_runs").dropColumn(column).execute();
}
