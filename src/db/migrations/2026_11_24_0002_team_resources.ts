import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("environments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("restricted", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("environments_team_name", ["team_id", "name"])
    .execute();

  await db.schema
    .createTable("models")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("models_team_name", ["team_id", "name"])
    .execute();

  await db.schema
    .createTable("deployments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("model_id", "text", (c) => c.notNull().references("models.id").onDelete("cascade"))
    .addColumn("environment_id", "text", (c) => c.notNull().references("environments.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("config", "jsonb")
    .addColumn("active", "boolean", (c) => c.notNull())
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("deployments_model_env_version", ["model_id", "environment_id", "version"])
    .execute();
  // One active deployment per model and environment.
  await sql`create unique index deployments_one_active on deployments (model_id, environment_id) where active`.execute(db);

  await db.schema
    .createTable("chains")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("definition", "jsonb")
    .addColumn("created_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("chains_team_name", ["team_id", "name"])
    .execute();

  await db.schema
    .createTable("chain_runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("chain_id", "text", (c) => c.notNull().references("chains.id").onDelete("cascade"))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("input", "jsonb")
    .addColumn("started_by", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("training_projects")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("training_projects_team_name", ["team_id", "name"])
    .execute();

  // Values are AES-256-GCM ciphertext (iv | tag | ciphertext, base64), bound to team and name.
  await db.schema
    .createTable("secrets")
    .addColumn("team_id", "text", (c) => c.notNull().references("teams.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("ciphertext", "text", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("secrets_pk", ["team_id", "name"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["secrets", "training_projects", "chain_runs", "chains", "deployments", "models", "environments"]) {
    await db.schema.dropTable(table).execute();
  }
}
