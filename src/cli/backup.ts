import { closeSync, existsSync, fsyncSync, linkSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.js";
import { secretKeyPath } from "../crypto/secret-box.js";
import { encodeBackup } from "../db/backup-file.js";
import { DataDirLockedError, LOCK_FILE, lockDataDir } from "../db/data-dir-lock.js";
import { dumpEmbeddedDatabase, holdsEmbeddedDatabase } from "../db/embedded-backup.js";

/**
 * `npm run backup -- --out FILE`: the embedded default's data folder (ORGRAPH_DATA_DIR) — its
 * database and its secret-encryption key — into one new file, readable by its owner only.
 *
 * The server must be stopped: the data folder's lock is taken for the dump, so the files are
 * one consistent state. (PGlite can dump a live database, but only from inside the process
 * that holds it, which would mean a new authorized HTTP surface; a stopped server needs none.)
 * The embedded SpiceDB holds nothing to save: it is re-filled from the database at start.
 */

/** What the data folder holds (besides the lock): anything else is refused, so a file added later cannot be silently left out. */
const DATA_FOLDER_ENTRIES = ["pgdata", "secret.key"];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  if (!values.out) throw new Refusal("usage: npm run backup -- --out FILE");
  const config = loadConfig();
  if (config.databaseUrl) {
    throw new Refusal(
      "DATABASE_URL is set: the data is in that Postgres server, not in a data folder. Back it up with Postgres's own tools " +
        '(pg_dump --format=custom --file=orgraph.dump "$DATABASE_URL"); nothing else is needed for SpiceDB, which is re-filled or caught up ' +
        "from the relationship record in Postgres. Keep the secret-encryption key with the dump: ORGRAPH_SECRET_KEY, or if it is unset " +
        `${secretKeyPath(config.dataDir)}.`,
    );
  }
  const out = resolve(values.out);
  const { dataDir } = config;
  if (!holdsEmbeddedDatabase(dataDir)) throw new Refusal(`The data folder ${dataDir} holds no database: nothing to back up (is ORGRAPH_DATA_DIR right?).`);
  if (existsSync(out)) throw new Refusal(`${out} already exists: a backup never overwrites a file. Choose another name.`);
  const unknown = readdirSync(dataDir).filter((name) => name !== LOCK_FILE && !DATA_FOLDER_ENTRIES.includes(name));
  if (unknown.length > 0) {
    throw new Refusal(`The data folder ${dataDir} holds ${unknown.join(", ")}, which is not Orgraph's: move it out of the folder, then back up.`);
  }

  const unlock = lockDataDir(dataDir, "npm run backup");
  try {
    const { tarball, postgresMajor } = await dumpEmbeddedDatabase(dataDir);
    const keyFile = secretKeyPath(dataDir);
    const secretKey = existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : null;
    const file = encodeBackup({ createdAt: new Date().toISOString(), postgresMajor, secretKey, secretKeyFromEnvironment: Boolean(config.secretKey) }, tarball);
    writeNewPrivateFile(out, file);
    console.log(`Backed up ${dataDir} to ${out} (${file.length} bytes).`);
    if (secretKey) console.log("The file holds the secret-encryption key: keep it as safe as the data itself.");
    if (config.secretKey) console.log("ORGRAPH_SECRET_KEY is set and is not in the file: keep it with the backup, the restored secrets need it.");
    if (!secretKey && !config.secretKey) console.log("The data folder has no secret-encryption key (no server has started on it): there are no secrets to decrypt.");
  } finally {
    unlock();
  }
}

/**
 * Writes beside `path`, then links the complete file to `path`: a crash leaves no partial
 * backup under the real name, and the link fails rather than replace a file that appeared
 * meanwhile. 0600: the file holds the secret-encryption key.
 */
function writeNewPrivateFile(path: string, contents: Buffer): void {
  const partial = `${path}.${randomBytes(6).toString("hex")}.partial`;
  const fd = openSync(partial, "wx", 0o600);
  try {
    try {
      writeFileSync(fd, contents);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(partial, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new Refusal(`${path} already exists: a backup never overwrites a file. Choose another name.`);
    throw error;
  } finally {
    rmSync(partial, { force: true });
  }
}

class Refusal extends Error {}

main().catch((error: unknown) => {
  const expected = error instanceof Refusal || error instanceof ConfigError || error instanceof DataDirLockedError;
  console.error(expected ? (error as Error).message : error);
  process.exit(1);
});
