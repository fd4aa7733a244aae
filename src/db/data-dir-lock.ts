import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

export class DataDirLockedError extends Error {}

/** The lock's file in the data folder: not part of the data (a backup leaves it out). */
export const LOCK_FILE = "orgraph.lock";

/**
 * The embedded Postgres and the in-memory SpiceDB belong to one process: a second process on
 * the same data folder would corrupt PGlite's files and serve permissions that the first one
 * changes behind its back. The lock file holds the owner's pid and where that pid means
 * something (host, boot, pid namespace); a lock whose process is gone (crash, SIGKILL) is
 * taken over, so a crashed server restarts without manual clean-up. A lock written in another
 * pid namespace (another container on the same volume: `docker compose run`) or on another
 * machine cannot be judged from here — its pid may be alive there — so it is never taken over.
 * Releasing removes the file only while it still holds this holder's nonce.
 * (proper-lockfile was considered: its staleness is time-based, which makes a restart
 * after SIGKILL wait for the timeout.)
 */
export function lockDataDir(dataDir: string, holder: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const nonce = randomBytes(12).toString("hex");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, JSON.stringify({ pid: process.pid, holder, where: PROCESS_NAMESPACE, nonce }));
      closeSync(fd);
      return () => {
        if (readOwner(path)?.nonce === nonce) rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = readOwner(path);
      if (owner && owner.where !== undefined && owner.where !== PROCESS_NAMESPACE) {
        throw new DataDirLockedError(
          `The data folder ${dataDir} is locked by ${owner.holder} (pid ${owner.pid}) in another container or on another machine. ` +
            `Stop it first; if nothing runs there any more, remove ${path}.`,
        );
      }
      if (owner && isAlive(owner.pid)) {
        throw new DataDirLockedError(
          `The data folder ${dataDir} is in use by ${owner.holder} (pid ${owner.pid}). ` +
            `Stop it first, or point ORGRAPH_DATA_DIR at another folder.`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new DataDirLockedError(`Could not lock the data folder ${dataDir}`);
}

/** Where a pid names this process's peers: the host, its boot, and the pid namespace (Linux; elsewhere the host alone). */
const PROCESS_NAMESPACE = [hostname(), readOr("/proc/sys/kernel/random/boot_id"), linkOr("/proc/self/ns/pid")].join("|");

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

function linkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

/** `where` and `nonce` are absent from locks written before they were recorded: judged by pid alone, as then. */
function readOwner(path: string): { pid: number; holder: string; where?: string; nonce?: string } | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as { pid: number; holder: string; where?: string; nonce?: string };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The lock connection's application_name, so an operator (or a test) can find it in pg_stat_activity. */
export const EMBEDDED_LOCK_APPLICATION = "orgraph-embedded-spicedb-lock";

/**
 * With DATABASE_URL and the embedded SpiceDB, the "data folder" is the database: a second
 * server would keep its own in-memory SpiceDB that the first one's writes never reach. A
 * session-level advisory lock, held on a connection of its own for the life of the process,
 * lets only one such server run per database.
 *
 * The lock dies with its connection (a network cut, a restart of Postgres, an operator's
 * pg_terminate_backend), and then a second server may start: `onLost` is called, and the
 * server must stop serving (orgraph.ts, server.ts).
 */
export async function lockEmbeddedDatabase(databaseUrl: string, onLost: (error: Error) => void): Promise<() => Promise<void>> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: databaseUrl, application_name: EMBEDDED_LOCK_APPLICATION });
  await client.connect();
  let releasing = false;
  let lost = false;
  const lose = (error: Error) => {
    if (releasing || lost) return;
    lost = true;
    onLost(error);
  };
  client.on("error", lose);
  client.on("end", () => lose(new Error("the lock connection was closed")));
  const { rows } = await client.query<{ locked: boolean }>("select pg_try_advisory_lock(hashtext('orgraph:embedded-spicedb')) as locked");
  if (!rows[0]?.locked) {
    releasing = true;
    await client.end();
    throw new DataDirLockedError(
      "Another Orgraph server with the embedded SpiceDB is using this database. Run one, or point every server at a shared SpiceDB (SPICEDB_ENDPOINT).",
    );
  }
  return async () => {
    releasing = true;
    if (!lost) await client.end();
  };
}
