import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export class DataDirLockedError extends Error {}

/**
 * The embedded Postgres and the in-memory SpiceDB belong to one process: a second process on
 * the same data folder would corrupt PGlite's files and serve permissions that the first one
 * changes behind its back. The lock file holds the owner's pid; a lock whose process is gone
 * (crash, SIGKILL) is taken over, so a crashed server restarts without manual clean-up.
 * (proper-lockfile was considered: its staleness is time-based, which makes a restart
 * after SIGKILL wait for the timeout.)
 */
export function lockDataDir(dataDir: string, holder: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, "orgraph.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, JSON.stringify({ pid: process.pid, holder }));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = readOwner(path);
      if (owner && owner.pid !== process.pid && isAlive(owner.pid)) {
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

function readOwner(path: string): { pid: number; holder: string } | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as { pid: number; holder: string };
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
