import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type * as ApiKeyRepository from "../src/modules/api-key/api-key.repository.js";
import type * as EnvironmentRepository from "../src/modules/environment/environment.repository.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Red team, issue 13: deleteEnvironment refuses while a team key is scoped to the environment
 * alone (its scope would read as "every environment"), but createApiKey checks its scope ids
 * before its transaction and takes no lock on them. A deletion that lands in that window leaves
 * a live key scoped to a deleted environment. The window is held open here (a gate after the
 * scope check) so the interleaving is deterministic; in production it is a few milliseconds.
 */
const gate = vi.hoisted(() => ({ hold: undefined as Promise<void> | undefined, reached: undefined as (() => void) | undefined }));

vi.mock("../src/modules/api-key/api-key.repository.js", async (importOriginal) => {
  const original = await importOriginal<typeof ApiKeyRepository>();
  return {
    ...original,
    findScopeIdsInTeam: async (...args: Parameters<typeof original.findScopeIdsInTeam>) => {
      const found = await original.findScopeIdsInTeam(...args);
      if (args[1] === "environments" && gate.hold) {
        gate.reached?.();
        await gate.hold;
      }
      return found;
    },
  };
});

/** Holds a deleteEnvironment transaction open after its stranded-key check, before its commit. */
const deletion = vi.hoisted(() => ({ hold: undefined as Promise<void> | undefined, reached: undefined as (() => void) | undefined }));

vi.mock("../src/modules/environment/environment.repository.js", async (importOriginal) => {
  const original = await importOriginal<typeof EnvironmentRepository>();
  return {
    ...original,
    deleteEnvironmentRow: async (...args: Parameters<typeof original.deleteEnvironmentRow>) => {
      const hold = deletion.hold;
      deletion.hold = undefined;
      if (hold) {
        deletion.reached?.();
        await hold;
      }
      return original.deleteEnvironmentRow(...args);
    },
  };
});

let app: TestApp;
let org: SeededOrg;
let teamId: string;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Platform");
}, 300_000);
afterAll(() => app?.close());

describe("deleteEnvironment racing createApiKey", () => {
  it("never leaves a live key scoped to a deleted environment (ApiKey.environments [] reads as every environment)", async () => {
    const env = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "doomed") { id } }`, { t: teamId })).createEnvironment.id;
    let release!: () => void;
    gate.hold = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (gate.reached = resolve));
    const creating = app.gql(org.admin.key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }`, {
      i: { name: "k", teamId, type: "FULL_ACCESS", environmentIds: [env] },
    });
    await reached;
    gate.hold = undefined;
    const deleted = await app.gql(org.admin.key, `mutation($i: ID!) { deleteEnvironment(id: $i) }`, { i: env });
    release();
    const created = await creating;
    const outcome = { deleted: deleted.errors ? codes(deleted) : "deleted", created: created.errors ? codes(created) : "created" };
    // One of the two must lose: a key scoped to that environment alone, or its deletion.
    expect.soft(outcome).not.toEqual({ deleted: "deleted", created: "created" });
    const live = await app.gql(created.data?.createApiKey?.secret ?? "none", `{ viewer { principal { ... on ApiKey { environments { id } } } } }`);
    expect(live.data?.viewer?.principal?.environments).not.toEqual([]);
  });
});

describe("two deleteEnvironment at once", () => {
  it("of the two environments a key is scoped to: one is refused, so the key never reads as scoped to none (every environment)", async () => {
    const create = `mutation($t: ID!, $n: String!) { createEnvironment(teamId: $t, name: $n) { id } }`;
    const [a, b] = [(await app.ok(org.admin.key, create, { t: teamId, n: "a" })).createEnvironment.id, (await app.ok(org.admin.key, create, { t: teamId, n: "b" })).createEnvironment.id];
    const key = (await app.ok(org.admin.key, `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`, { i: { name: "pair", teamId, type: "FULL_ACCESS", environmentIds: [a, b] } }))
      .createApiKey.secret;
    let release!: () => void;
    deletion.hold = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (deletion.reached = resolve));
    const first = app.gql(org.admin.key, `mutation($i: ID!) { deleteEnvironment(id: $i) }`, { i: a });
    await reached;
    // The first deletion has checked the key (scoped to b as well) and not committed yet. On a
    // server that serializes nothing, the second one checks now; PGlite runs one transaction at a
    // time, so it waits for the first: released after a while either way.
    const second = app.gql(org.admin.key, `mutation($i: ID!) { deleteEnvironment(id: $i) }`, { i: b });
    const timer = setTimeout(release, 3000);
    const secondDone = await second;
    release();
    clearTimeout(timer);
    const firstDone = await first;
    const outcomes = [firstDone, secondDone].map((r) => (r.errors ? codes(r)[0] : "deleted")).sort();
    expect.soft(outcomes).toEqual(["CONFLICT", "deleted"]);
    expect((await app.ok(key, `{ viewer { principal { ... on ApiKey { environments { id } } } } }`)).viewer.principal.environments).not.toEqual([]);
  });
});
