import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { BackupFileError } from "./backup-file.js";

/** Where PGlite keeps its files inside the data folder (connect.ts opens the same path). */
export const pgdataOf = (dataDir: string) => join(dataDir, "pgdata");

/** True when the data folder holds an embedded database (PG_VERSION marks a Postgres data directory). */
export const holdsEmbeddedDatabase = (dataDir: string) => existsSync(join(pgdataOf(dataDir), "PG_VERSION"));

/**
 * The embedded database as PGlite's own gzipped tarball of its files. The caller holds the
 * data folder's lock, so no server writes meanwhile: the files are one consistent state (a
 * folder left by a crash is recovered by PGlite when it opens it, before the dump).
 * Migrations are not run: a backup is the database as it was.
 */
export async function dumpEmbeddedDatabase(dataDir: string): Promise<{ tarball: Buffer; postgresMajor: string }> {
  const pgdata = pgdataOf(dataDir);
  const postgresMajor = readFileSync(join(pgdata, "PG_VERSION"), "utf8").trim();
  const pglite = await PGlite.create(pgdata);
  try {
    const dump = await pglite.dumpDataDir("gzip");
    return { tarball: Buffer.from(await dump.arrayBuffer()), postgresMajor };
  } finally {
    await pglite.close();
  }
}

/**
 * Unpacks a tarball from `dumpEmbeddedDatabase` as the embedded database of `dataDir` (a new,
 * empty folder), and proves it opens as an Orgraph database: Postgres starts on the files and
 * the migrations table answers. Anything else throws, and the caller discards the folder.
 */
export async function loadEmbeddedDatabase(dataDir: string, tarball: Buffer, postgresMajor: string): Promise<void> {
  const pgdata = pgdataOf(dataDir);
  mkdirSync(pgdata);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({ dataDir: pgdata, loadDataDir: new Blob([new Uint8Array(tarball)]) });
  } catch (error) {
    throw new BackupFileError(`The backup's database does not open (${(error as Error).message}); it was written by Postgres ${postgresMajor}.`, { cause: error });
  }
  try {
    const migrated = await pglite.query<{ count: number }>("select count(*)::int as count from kysely_migration").then(
      ({ rows }) => (rows[0]?.count ?? 0) > 0,
      () => false,
    );
    if (!migrated) throw new BackupFileError("The backup's database is not an Orgraph database (it has no migrations).");
  } finally {
    await pglite.close();
  }
}
