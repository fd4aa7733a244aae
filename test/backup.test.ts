import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeBackup } from "../src/db/backup-file.js";
import { startTestApp, type TestApp } from "./helpers/app.js";
import { buildWorld, openSecret, permissionAnswerCount, recordGatewayDecisions, recordPermissions, type World } from "./helpers/backup-world.js";
import { runScript } from "./helpers/process.js";

/**
 * Backups of the embedded default (PGlite in a data folder): this file runs on PGlite even
 * when the suite runs with DATABASE_URL. A varied state is built through the API, the real
 * `npm run backup` and `npm run restore` move it into a fresh folder, and every permission
 * (each credential × object × catalog permission, and each gateway question) answers the
 * same there, and the team secret still decrypts.
 */
let root: string;
let app: TestApp | undefined;
const folder = (name: string) => join(root, name);
/** The CLIs' environment: the embedded default in `dataDir`, whatever the suite's DATABASE_URL. */
const embedded = (dataDir: string) => ({ ORGRAPH_DATA_DIR: dataDir, DATABASE_URL: "", ORGRAPH_SECRET_KEY: "" });
const UNLIMITED = { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000", RATE_LIMIT_AUTHORIZE_PER_SECOND: "1000000" };
/** Everything beside the data folders: a restore that failed must leave no staging folder behind. */
const leftovers = () => readdirSync(root).filter((name) => name.includes(".restoring-"));

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "orgraph-backup-"));
});
afterAll(async () => {
  await app?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("npm run backup, npm run restore (embedded default)", () => {
  let world: World;
  let permissions: Record<string, string>;
  let gateway: Record<string, string>;
  const backupFile = () => folder("orgraph.backup");

  it("records the permissions of a varied state: every answer, allowed and denied ones both", async () => {
    app = await startTestApp({ embeddedDataDir: folder("original"), env: UNLIMITED });
    world = await buildWorld(app);
    permissions = await recordPermissions(app, world);
    gateway = await recordGatewayDecisions(app, world);
    expect(Object.keys(permissions)).toHaveLength(permissionAnswerCount(world));
    expect(Object.keys(permissions).length).toBeGreaterThan(1500);
    const values = Object.values(permissions);
    expect(values.filter((v) => v === "allowed").length).toBeGreaterThan(200);
    expect(values.filter((v) => v === "denied").length).toBeGreaterThan(200);
    expect(values.filter((v) => v === "denied: NOT_FOUND").length).toBeGreaterThan(200);
    // The state is what it claims to be: each kind of grant shows in its answers.
    expect(permissions["grantee × environment prod (restricted) × environment:manage"]).toBe("allowed");
    expect(permissions["writer × environment prod (restricted) × environment:manage"]).toBe("denied");
    expect(permissions["roleHolder × team Research × models:invoke"]).toBe("allowed");
    expect(permissions["roleHolder × team Research × resources:write"]).toBe("denied");
    expect(permissions["chainGuest × chain triage × chain:run"]).toBe("allowed");
    expect(permissions["chainGuest × chain triage × chain:edit"]).toBe("denied");
    expect(permissions["billingAdmin × org Acme × billing:manage"]).toBe("allowed");
    expect(permissions["otherOrgAdmin × org Acme × org:view"]).toBe("denied: NOT_FOUND");
    expect(permissions["revoked × team Inference × team:view"]).toBe("denied: UNAUTHENTICATED");
    expect(gateway["teamFullStaging × model:invoke × llama × staging"]).toBe("200");
    expect(gateway["teamFullStaging × model:invoke × llama × prod"]).toMatch(/^403: /);
    expect(gateway["grantee × environment:manage × llama × prod"]).toBe("200");
    expect(gateway["writer × environment:manage × llama × prod"]).toMatch(/^403: /);
    expect(gateway["teamInferenceLlama × model:invoke × mistral × staging"]).toMatch(/^403: /);
    expect(gateway["roleHolder × model:invoke × bert × dev"]).toBe("200");
    expect(gateway["revoked × model:invoke × llama × staging"]).toMatch(/^401: /);
    const statuses = Object.values(gateway).map((answer) => answer.slice(0, 3));
    expect(statuses.filter((status) => status === "200").length).toBeGreaterThan(50);
    expect(statuses.filter((status) => status === "403").length).toBeGreaterThan(50);
    expect(await openSecret(app, world)).toBe(world.secret.value);
  }, 300_000);

  it("backup refuses while a server holds the data folder, and writes nothing", async () => {
    const result = await runScript("backup", ["--out", backupFile()], embedded(folder("original")));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/data folder .*original is in use by the Orgraph server \(pid \d+\)/);
    expect(existsSync(backupFile())).toBe(false);
  });

  it("with the server stopped, backup writes one file readable by its owner only, holding the secret-encryption key", async () => {
    await app!.close();
    app = undefined;
    const result = await runScript("backup", ["--out", backupFile()], embedded(folder("original")));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("holds the secret-encryption key");
    expect(statSync(backupFile()).mode & 0o777).toBe(0o600);
    const manifest = JSON.parse(readFileSync(backupFile()).subarray(0, readFileSync(backupFile()).indexOf("\n")).toString());
    expect(manifest).toMatchObject({ format: "orgraph-embedded-backup", version: 1, secretKey: readFileSync(join(folder("original"), "secret.key"), "utf8").trim() });
  });

  it("backup never overwrites a file", async () => {
    const before = readFileSync(backupFile());
    const result = await runScript("backup", ["--out", backupFile()], embedded(folder("original")));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("already exists: a backup never overwrites a file");
    expect(readFileSync(backupFile()).equals(before)).toBe(true);
  });

  it("with ORGRAPH_SECRET_KEY set, backup and restore both say that key is not in the file and must be kept with it", async () => {
    const secretKey = randomBytes(32).toString("base64");
    const backup = await runScript("backup", ["--out", folder("env-key.backup")], { ...embedded(folder("original")), ORGRAPH_SECRET_KEY: secretKey });
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain("ORGRAPH_SECRET_KEY is set and is not in the file: keep it with the backup");
    const restore = await runScript("restore", ["--in", folder("env-key.backup")], { ...embedded(folder("env-key-restored")), ORGRAPH_SECRET_KEY: secretKey });
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain("start the restored server with the same ORGRAPH_SECRET_KEY");
  });

  it("restore into a fresh folder answers every permission, gateway decision and secret as the original", async () => {
    const result = await runScript("restore", ["--in", backupFile()], embedded(folder("restored")));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(readdirSync(folder("restored")).sort()).toEqual(["pgdata", "secret.key"]);
    expect(statSync(join(folder("restored"), "secret.key")).mode & 0o777).toBe(0o600);
    expect(leftovers()).toEqual([]);

    app = await startTestApp({ embeddedDataDir: folder("restored"), env: UNLIMITED });
    expect(await recordPermissions(app, world)).toEqual(permissions);
    expect(await recordGatewayDecisions(app, world)).toEqual(gateway);
    expect(await openSecret(app, world)).toBe(world.secret.value);
  }, 300_000);

  it("restore refuses while a server holds the target folder", async () => {
    const result = await runScript("restore", ["--in", backupFile()], embedded(folder("restored")));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/data folder .*restored is in use by the Orgraph server \(pid \d+\)/);
  });

  it("restore refuses a folder that already holds a database, or anything else, and leaves it as it was", async () => {
    await app!.close();
    app = undefined;
    const key = readFileSync(join(folder("restored"), "secret.key"));
    const entries = readdirSync(folder("restored")).sort();
    const intoDatabase = await runScript("restore", ["--in", backupFile()], embedded(folder("restored")));
    expect(intoDatabase.code).toBe(1);
    expect(intoDatabase.stderr).toContain("already holds a database: a restore never overwrites one");
    expect(readdirSync(folder("restored")).sort()).toEqual(entries);
    expect(readFileSync(join(folder("restored"), "secret.key")).equals(key)).toBe(true);

    mkdirSync(folder("cluttered"));
    writeFileSync(join(folder("cluttered"), "notes.txt"), "mine");
    const intoCluttered = await runScript("restore", ["--in", backupFile()], embedded(folder("cluttered")));
    expect(intoCluttered.code).toBe(1);
    expect(intoCluttered.stderr).toContain("is not empty (notes.txt)");
    expect(readdirSync(folder("cluttered"))).toEqual(["notes.txt"]);
    expect(leftovers()).toEqual([]);
  });
});

describe("a damaged or wrong file is refused with a clear message, leaving no folder behind", () => {
  const attempt = async (name: string, contents: Buffer) => {
    writeFileSync(folder(name), contents);
    const target = folder(`${name}-target`);
    const result = await runScript("restore", ["--in", folder(name)], embedded(target));
    expect(result.code).toBe(1);
    expect(existsSync(target)).toBe(false);
    expect(leftovers()).toEqual([]);
    return result.stderr.trim();
  };
  let good: Buffer;
  beforeAll(async () => {
    const source = await PGlite.create();
    try {
      // A real database (Postgres opens it), but not Orgraph's: it has no migrations.
      const foreign = Buffer.from(await (await source.dumpDataDir("gzip")).arrayBuffer());
      good = encodeBackup({ createdAt: new Date().toISOString(), postgresMajor: "17", secretKey: null, secretKeyFromEnvironment: false }, foreign);
    } finally {
      await source.close();
    }
  }, 120_000);

  it("a file that is no backup", async () => {
    expect(await attempt("text.backup", Buffer.from("SELECT 1;\n"))).toBe("This file is not an Orgraph backup (made by `npm run backup`).");
    expect(await attempt("binary.backup", gzipSync(Buffer.alloc(1000, 7)))).toBe("This file is not an Orgraph backup (made by `npm run backup`).");
  });

  it("a truncated backup, and one with a byte changed", async () => {
    expect(await attempt("truncated.backup", good.subarray(0, good.length - 100))).toMatch(/^This backup is damaged: its database should be \d+ bytes, the file holds \d+ \(truncated or altered\)\.$/);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 50]! ^= 0xff;
    expect(await attempt("flipped.backup", flipped)).toBe("This backup is damaged: its database does not match its checksum.");
  });

  it("a backup in a format version this Orgraph does not read", async () => {
    const newline = good.indexOf("\n");
    const manifest = { ...JSON.parse(good.subarray(0, newline).toString()), version: 2 };
    const future = Buffer.concat([Buffer.from(JSON.stringify(manifest)), good.subarray(newline)]);
    expect(await attempt("future.backup", future)).toContain("format version 2; this Orgraph reads version 1");
  });

  it("a manifest whose text would drive the terminal (escape sequences in createdAt or postgresMajor) is refused, and nothing of it is printed", async () => {
    const newline = good.indexOf("\n");
    const forge = (fields: Record<string, unknown>) =>
      Buffer.concat([Buffer.from(JSON.stringify({ ...JSON.parse(good.subarray(0, newline).toString()), ...fields })), good.subarray(newline)]);
    const escape = "\u001b[2J\u001b[1;31mFAKE: restore verified OK\u001b[0m";
    for (const [name, fields] of [["created.backup", { createdAt: escape }], ["major.backup", { postgresMajor: escape }]] as const) {
      const message = await attempt(name, forge(fields));
      expect(message).toBe("This backup's manifest is damaged (a field is missing or malformed).");
    }
    const version = await attempt("version.backup", forge({ version: escape }));
    expect(version).not.toContain("\u001b");
  });

  it("a well-formed file whose database is not a database, or not Orgraph's (found once unpacked: the staging folder is removed)", async () => {
    const garbage = encodeBackup({ createdAt: new Date().toISOString(), postgresMajor: "17", secretKey: null, secretKeyFromEnvironment: false }, gzipSync(Buffer.alloc(4096, 1)));
    expect(await attempt("garbage.backup", garbage)).toMatch(/^The backup's database does not open \(.+\); it was written by Postgres 17\.$/);
    expect(await attempt("foreign.backup", good)).toBe("The backup's database is not an Orgraph database (it has no migrations).");
  }, 120_000);
});

describe("refusals", () => {
  it("with DATABASE_URL set, both refuse and point to Postgres's own tools (without connecting)", async () => {
    const env = { ORGRAPH_DATA_DIR: folder("unused"), DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
    const backup = await runScript("backup", ["--out", folder("pg.backup")], env);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toContain("pg_dump");
    expect(backup.stderr).toContain("SpiceDB, which is re-filled or caught up from the relationship record in Postgres");
    const restore = await runScript("restore", ["--in", folder("pg.backup")], env);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain("pg_restore");
    expect(existsSync(folder("pg.backup"))).toBe(false);
    expect(existsSync(folder("unused"))).toBe(false);
  });

  it("backup refuses a folder without a database, one holding files it does not know, and missing arguments", async () => {
    const empty = await runScript("backup", ["--out", folder("empty.backup")], embedded(folder("nothing-here")));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("holds no database: nothing to back up");
    mkdirSync(join(folder("odd"), "pgdata"), { recursive: true });
    writeFileSync(join(folder("odd"), "pgdata", "PG_VERSION"), "17\n");
    writeFileSync(join(folder("odd"), "something-new"), "");
    const odd = await runScript("backup", ["--out", folder("odd.backup")], embedded(folder("odd")));
    expect(odd.code).toBe(1);
    expect(odd.stderr).toContain("holds something-new, which is not Orgraph's");
    expect(existsSync(folder("odd.backup"))).toBe(false);
    const usage = await runScript("backup", [], embedded(folder("odd")));
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain("usage: npm run backup -- --out FILE");
    expect((await runScript("restore", [], embedded(folder("odd")))).stderr).toContain("usage: npm run restore -- --in FILE");
  });
});
