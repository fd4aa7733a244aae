import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DataDirLockedError, LOCK_FILE, lockDataDir } from "../src/db/data-dir-lock.js";

/**
 * The data folder's lock (one process per embedded database). Found by the red team of
 * issue 15: `npm run backup` in another pid namespace (another container on the same
 * volume) judged the server's pid dead, took its lock over, and deleted it on exit, so a
 * second server started on the same files.
 */
const ROOT = new URL("..", import.meta.url).pathname;
const folders: string[] = [];
const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), "orgraph-lock-"));
  folders.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A process in a new pid namespace (unshare, as root) that holds the folder's lock until killed. */
async function holdInOtherNamespace(dataDir: string): Promise<() => Promise<void>> {
  const script = `const { lockDataDir } = await import(${JSON.stringify(join(ROOT, "src/db/data-dir-lock.ts"))}); lockDataDir(${JSON.stringify(dataDir)}, "a server in a container"); console.log("locked"); setInterval(() => {}, 1000);`;
  const child = spawn("unshare", ["--pid", "--fork", "--mount-proc", process.execPath, "--import", "tsx", "-e", script], { cwd: ROOT });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  for (let i = 0; i < 200 && !output.includes("locked"); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!output.includes("locked")) throw new Error(`the namespaced holder did not start: ${output}`);
  return async () => {
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  };
}

describe("the data folder's lock", () => {
  it("is never taken over from a holder in another pid namespace, whose pid means nothing here", async () => {
    const dataDir = folder();
    const stop = await holdInOtherNamespace(dataDir);
    try {
      const held = readFileSync(join(dataDir, LOCK_FILE), "utf8");
      // Inside its namespace the holder is pid 1 or so: alive or not here, it is not ours to judge.
      expect(() => lockDataDir(dataDir, "npm run backup")).toThrow(DataDirLockedError);
      expect(() => lockDataDir(dataDir, "npm run backup")).toThrow(/in another container or on another machine/);
      expect(readFileSync(join(dataDir, LOCK_FILE), "utf8")).toBe(held);
    } finally {
      await stop();
    }
  });

  it("a lock of another machine (or boot) with a pid that is dead here is refused too, naming the file to remove", () => {
    const dataDir = folder();
    const lock = JSON.stringify({ pid: 2 ** 22 + 1, holder: "the Orgraph server", where: "elsewhere|boot|pid:[1]", nonce: "theirs" });
    writeFileSync(join(dataDir, LOCK_FILE), lock);
    expect(() => lockDataDir(dataDir, "npm run restore")).toThrow(`remove ${join(dataDir, LOCK_FILE)}`);
    expect(readFileSync(join(dataDir, LOCK_FILE), "utf8")).toBe(lock);
  });

  it("a lock left by a dead process of this namespace (a crash) is taken over, as before; so is one written before namespaces were recorded", () => {
    const dataDir = folder();
    const unlockFirst = lockDataDir(dataDir, "first");
    const mine = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8")) as { where: string };
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 1, holder: "crashed", where: mine.where, nonce: "gone" }));
    const unlock = lockDataDir(dataDir, "restarted");
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8")).holder).toBe("restarted");
    unlock();
    writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 1, holder: "old version" }));
    lockDataDir(dataDir, "upgraded")();
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
    unlockFirst();
  });

  it("releasing removes the file only while it is still this holder's", () => {
    const dataDir = folder();
    const unlock = lockDataDir(dataDir, "backup");
    const someoneElse = JSON.stringify({ pid: process.pid, holder: "the Orgraph server", nonce: "theirs" });
    writeFileSync(join(dataDir, LOCK_FILE), someoneElse);
    unlock();
    expect(readFileSync(join(dataDir, LOCK_FILE), "utf8")).toBe(someoneElse);
  });
});
