import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import { EMBEDDED_LOCK_APPLICATION } from "../src/db/data-dir-lock.js";
import { startTestApp, type TestApp } from "./helpers/app.js";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";
import { startServer, type ServerProcess } from "./helpers/process.js";

/**
 * Issue 11, hole 9: with a Postgres server and the embedded SpiceDB, one server per database
 * is enforced by an advisory lock on a connection of its own. If that connection dies, the
 * lock is gone and a second server could start: the first must stop serving at once.
 * (PGlite mode has no lock connection: its data-folder lock is a file, single-instance.test.ts.)
 */
const postgres = Boolean(process.env.DATABASE_URL);

async function terminateLockConnection(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      "select pg_terminate_backend(pid) as done from pg_stat_activity where application_name = $1 and datname = current_database()",
      [EMBEDDED_LOCK_APPLICATION],
    );
    return rows.length;
  } finally {
    await client.end();
  }
}

const until = async (condition: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 100 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 50));
};

describe.skipIf(!postgres)("losing the embedded SpiceDB's database lock (Postgres server only: PGlite has no lock connection)", () => {
  let app: TestApp;
  let database: TestDatabase | undefined;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await app?.close();
    await server?.stop();
    await database?.drop();
  });

  it("refuses every request with 503 (readiness, GraphQL, /v1/authorize) and logs it as fatal", async () => {
    app = await startTestApp();
    const org = await app.seed.org("Locked");
    const fatal = vi.spyOn(app.orgraph.deps.logger, "fatal");
    expect(await terminateLockConnection(app.database.databaseUrl!)).toBe(1);
    await until(() => Boolean(app.orgraph.deps.lifecycle.failed));
    expect(fatal).toHaveBeenCalledWith(expect.objectContaining({ err: expect.anything() }), expect.stringContaining("lock"));
    expect((await app.fetch("/readyz")).status).toBe(503);
    const query = await app.http("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${org.admin.key}` },
      body: JSON.stringify({ query: "{ viewer { user { id } } }" }),
    });
    expect(query.status).toBe(503);
    expect(JSON.stringify(await query.json())).toContain("AUTHZ_UNAVAILABLE");
    const decision = await app.http("/v1/authorize", { method: "POST", headers: { authorization: `Bearer ${org.admin.key}` }, body: "{}" });
    expect(decision.status).toBe(503);
    await expect(app.orgraph.failed).resolves.toBeInstanceOf(Error);
  });

  it("npm start exits with an error, saying why", async () => {
    database = await createTestDatabase();
    server = await startServer({ DATABASE_URL: database.databaseUrl!, ORGRAPH_DATA_DIR: database.dataDir, SHUTDOWN_DRAIN_MS: "0" }, { direct: true });
    const exited = new Promise<number | null>((resolve) => server!.child.on("exit", (code) => resolve(code)));
    expect(await terminateLockConnection(database.databaseUrl!)).toBe(1);
    expect(await exited).toBe(1);
    expect(server.output()).toMatch(/"level":60.*lost the embedded SpiceDB's database lock/);
  });
});
