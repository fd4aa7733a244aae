import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface TestDatabase {
  /** Set when the tests run against a Postgres server (DATABASE_URL). */
  databaseUrl: string | undefined;
  /** A fresh folder for PGlite and the data-folder lock. */
  dataDir: string;
  drop(): Promise<void>;
}

/**
 * A database of the test file's own: a new database on the server named by DATABASE_URL,
 * else a fresh PGlite folder. Files can then run in parallel.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), "orgraph-test-"));
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    return { databaseUrl: undefined, dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `orgraph_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await adminQuery(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dataDir,
    drop: async () => {
      await adminQuery(serverUrl, `drop database if exists ${name} with (force)`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function adminQuery(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
