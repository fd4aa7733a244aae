import { createHash } from "node:crypto";

/**
 * The embedded default's backup file: one line of JSON (the manifest), then PGlite's gzipped
 * tarball of the database files, byte for byte.
 *
 * Why this shape: the tarball is binary and can be large, so it is not base64'd into JSON
 * (a third bigger, and bounded by the longest string V8 can hold); a tar of tars would need a
 * tar library or hand-written headers. A first line of JSON (which holds the secret key: never print it) carries
 * the format version (so a later change is detected, not misread) and the tarball's length and
 * SHA-256 (so a truncated or damaged file is refused before anything is written).
 */
export const BACKUP_FORMAT = "orgraph-embedded-backup";
export const BACKUP_VERSION = 1;

/** The manifest can never be this long; a file without a newline this early is not a backup. */
const MAX_MANIFEST_BYTES = 64 * 1024;

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  version: number;
  createdAt: string;
  /** The Postgres major version of the database files (PG_VERSION): restoring needs a PGlite of the same major. */
  postgresMajor: string;
  database: { bytes: number; sha256: string };
  /**
   * The data folder's secret-encryption key (secret.key, base64), or null when it had none.
   * Without it the restored secrets could never be decrypted, so it travels with the data.
   */
  secretKey: string | null;
  /** ORGRAPH_SECRET_KEY was set when the backup was made: the server used that key, not the folder's. */
  secretKeyFromEnvironment: boolean;
}

export class BackupFileError extends Error {}

/** What `new Date().toISOString()` writes; anything else (escape sequences for the terminal that prints it) is refused. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

export function encodeBackup(contents: Omit<BackupManifest, "format" | "version" | "database">, tarball: Buffer): Buffer {
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    ...contents,
    database: { bytes: tarball.length, sha256: sha256(tarball) },
  };
  return Buffer.concat([Buffer.from(`${JSON.stringify(manifest)}\n`), tarball]);
}

/** The manifest and the tarball, or a BackupFileError saying what is wrong with the file. */
export function decodeBackup(file: Buffer): { manifest: BackupManifest; tarball: Buffer } {
  const notABackup = new BackupFileError("This file is not an Orgraph backup (made by `npm run backup`).");
  const newline = file.subarray(0, MAX_MANIFEST_BYTES).indexOf(0x0a);
  if (newline < 0) throw notABackup;
  let manifest: Partial<BackupManifest>;
  try {
    manifest = JSON.parse(file.subarray(0, newline).toString("utf8")) as Partial<BackupManifest>;
  } catch {
    throw notABackup;
  }
  if (manifest?.format !== BACKUP_FORMAT) throw notABackup;
  if (manifest.version !== BACKUP_VERSION) {
    // JSON.stringify: the file is untrusted, and its text goes to a terminal.
    throw new BackupFileError(`This backup is in format version ${JSON.stringify(manifest.version)}; this Orgraph reads version ${BACKUP_VERSION}. Restore it with the Orgraph that made it.`);
  }
  const { database, secretKey, secretKeyFromEnvironment, postgresMajor, createdAt } = manifest;
  const keyIsValid = secretKey === null || (typeof secretKey === "string" && Buffer.from(secretKey, "base64").length === 32);
  const wellFormed =
    typeof database?.bytes === "number" && typeof database.sha256 === "string" && keyIsValid &&
    typeof secretKeyFromEnvironment === "boolean" && typeof postgresMajor === "string" && /^\d{1,3}$/.test(postgresMajor) &&
    typeof createdAt === "string" && ISO_TIME.test(createdAt) && !Number.isNaN(Date.parse(createdAt));
  if (!wellFormed) {
    throw new BackupFileError("This backup's manifest is damaged (a field is missing or malformed).");
  }
  const tarball = file.subarray(newline + 1);
  if (tarball.length !== database.bytes) {
    throw new BackupFileError(`This backup is damaged: its database should be ${database.bytes} bytes, the file holds ${tarball.length} (truncated or altered).`);
  }
  if (sha256(tarball) !== database.sha256) throw new BackupFileError("This backup is damaged: its database does not match its checksum.");
  return { manifest: manifest as BackupManifest, tarball };
}
