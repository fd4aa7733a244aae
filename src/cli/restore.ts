import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.js";
import { secretKeyPath } from "../crypto/secret-box.js";
import { BackupFileError, decodeBackup } from "../db/backup-file.js";
import { DataDirLockedError, LOCK_FILE, lockDataDir } from "../db/data-dir-lock.js";
import { holdsEmbeddedDatabase, loadEmbeddedDatabase } from "../db/embedded-backup.js";

/**
 * `npm run restore -- --in FILE`: a file from `npm run backup` into the data folder
 * ORGRAPH_DATA_DIR, which must not exist yet or be empty: a restore never overwrites.
 *
 * The whole file is checked (format, length, checksum) before anything is written; the
 * folder is then built beside the target and renamed onto it only once complete, so a
 * failure leaves the target as it was. The server started on the restored folder re-fills
 * the embedded SpiceDB from the restored relationship record.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { in: { type: "string" } } });
  if (!values.in) throw new Refusal("usage: npm run restore -- --in FILE");
  const config = loadConfig();
  if (config.databaseUrl) {
    throw new Refusal(
      "DATABASE_URL is set: a Postgres server is restored with its own tools (pg_restore --dbname=\"$DATABASE_URL\" orgraph.dump, from pg_dump). " +
        "Nothing else is needed for SpiceDB: it is re-filled or caught up from the relationship record in Postgres. " +
        "Start the server with the ORGRAPH_SECRET_KEY (or data folder secret.key) the dump was made with.",
    );
  }
  const source = resolve(values.in);
  const { manifest, tarball } = decodeBackup(readBackupFile(source));
  const target = config.dataDir;

  const existed = existsSync(target);
  let unlock: (() => void) | undefined = lockDataDir(target, "npm run restore");
  const release = () => {
    unlock?.();
    unlock = undefined;
  };
  let staging: string | undefined;
  try {
    if (holdsEmbeddedDatabase(target)) {
      throw new Refusal(`The data folder ${target} already holds a database: a restore never overwrites one. Restore into a new folder (ORGRAPH_DATA_DIR), or move this one away first.`);
    }
    const present = readdirSync(target).filter((name) => name !== LOCK_FILE);
    if (present.length > 0) throw new Refusal(`The data folder ${target} is not empty (${present.join(", ")}): a restore never overwrites. Restore into a new folder (ORGRAPH_DATA_DIR).`);

    staging = mkdtempSync(join(dirname(target), `.${basename(target)}.restoring-`));
    await loadEmbeddedDatabase(staging, tarball, manifest.postgresMajor);
    if (manifest.secretKey !== null) writeFileSync(secretKeyPath(staging), manifest.secretKey, { mode: 0o600, flag: "wx" });
    // The target now holds only our lock. Once it is gone, rename(2) swaps the complete folder
    // in at once, and fails (rather than merge) if a server has begun to fill the target meanwhile.
    release();
    try {
      renameSync(staging, target);
    } catch (error) {
      throw new Refusal(`Could not move the restored folder onto ${target} (${(error as NodeJS.ErrnoException).code}): was a server started on it meanwhile, or is it a mount point? Restore into a new folder inside it.`);
    }
    staging = undefined;
  } catch (error) {
    if (staging) rmSync(staging, { recursive: true, force: true });
    release();
    if (!existed) removeIfEmpty(target);
    throw error;
  }
  console.log(`Restored ${source} (made ${manifest.createdAt}) into ${target}. Start the server with ORGRAPH_DATA_DIR=${target}.`);
  if (manifest.secretKeyFromEnvironment) {
    console.log("The backup was made while ORGRAPH_SECRET_KEY was set: start the restored server with the same ORGRAPH_SECRET_KEY, or its secrets cannot be decrypted.");
  }
}

function readBackupFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Refusal(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
}

function removeIfEmpty(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // Not empty (someone else's now) or already gone: either way not ours to remove.
  }
}

class Refusal extends Error {}

main().catch((error: unknown) => {
  const expected = error instanceof Refusal || error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof BackupFileError;
  console.error(expected ? (error as Error).message : error);
  process.exit(1);
});
