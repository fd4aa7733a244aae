import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

let app: TestApp;
let org: SeededOrg;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "5", RATE_LIMIT_AUTHORIZE_PER_SECOND: "3", MAX_BODY_BYTES: "20000", GRAPHQL_INTROSPECTION: "false" } });
  org = await app.seed.org();
});
afterAll(() => app?.close());

describe("GraphQL limits", () => {
  it("a deep query is refused with a clear error", async () => {
    const deep = `{ viewer { teams { organization { defaultTeam { organization { defaultTeam { organization { defaultTeam { organization { defaultTeam { organization { defaultTeam { name } } } } } } } } } } } } }`;
    const result = await app.gql(org.admin.key, deep);
    expect(codes(result)).toContain("BAD_USER_INPUT");
    expect(result.errors?.[0]?.message).toMatch(/depth/i);
  });

  it("an alias bomb is refused", async () => {
    const aliases = Array.from({ length: 50 }, (_, i) => `a${i}: viewer { user { id } }`).join(" ");
    const result = await app.gql(org.admin.key, `{ ${aliases} }`);
    expect(codes(result)).toContain("BAD_USER_INPUT");
    expect(result.errors?.[0]?.message).toMatch(/alias/i);
  });

  it("the console's heaviest queries stay within the limits", async () => {
    const models = `query($t: ID!) { team(id: $t) { models(first: 100) { edges { node { id name deployments { version environment { name restricted } } } } } } }`;
    const audit = `query($o: ID!) { organization(id: $o) { auditLog(first: 100) { edges { node { id at action targetId result error diff authMethod authRef requestId actor { id kind } } } } } }`;
    expect(codes(await app.gql(org.admin.key, models, { t: org.defaultTeamId }))).toEqual([]);
    expect(codes(await app.gql(org.admin.key, audit, { o: org.orgId }))).toEqual([]);
  });

  it("an oversized body is refused with 413", async () => {
    const body = JSON.stringify({ query: `{ viewer { user { id } } }`, variables: { padding: "x".repeat(30_000) } });
    const response = await app.fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), authorization: `Bearer ${org.admin.key}` },
      body,
    });
    expect(response.status).toBe(413);
  });

  it("field suggestions are not given away", async () => {
    const result = await app.gql(org.admin.key, `{ viewer { use { id } } }`);
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it("introspection can be switched off", async () => {
    const result = codes(await app.gql(org.admin.key, `{ __schema { types { name } } }`));
    expect(result.length).toBeGreaterThan(0);
    expect(result.every((code) => code === "BAD_USER_INPUT")).toBe(true);
  });
});

describe("rate limits per credential", () => {
  it("mutations beyond the limit get 429 with Retry-After; other credentials are unaffected; queries are not limited", async () => {
    const mutation = (n: number) => JSON.stringify({ query: `mutation($o: ID!) { createTeam(organizationId: $o, name: "rl-${n}") { id } }`, variables: { o: org.orgId } });
    const post = (key: string, body: string) =>
      app.fetch("/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body });
    // The seed spent some of the admin's budget; use a fresh member for a clean count.
    const member = await app.seed.member(org, "MEMBER", [], "limited");
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post(member.key, mutation(i))).status);
    expect(statuses.slice(0, 5).every((s) => s === 200)).toBe(true);
    const limited = await post(member.key, mutation(99));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(codes(await limited.json())).toEqual(["RATE_LIMITED"]);
    expect((await post(member.key, JSON.stringify({ query: `{ viewer { user { id } } }` }))).status).toBe(200);
  });

  it("/v1/authorize beyond the limit gets 429 with Retry-After", async () => {
    const gateway = await startTestApp({ env: { RATE_LIMIT_AUTHORIZE_PER_SECOND: "3" } });
    try {
      const owner = await gateway.seed.org();
      const teamId = await gateway.seed.team(owner, "Gateway");
      await gateway.ok(owner.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } createModel(teamId: $t, name: "m") { id } }`, { t: teamId });
      const key = (await gateway.ok(owner.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "gw", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: teamId })).createApiKey.secret;
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await authorize(gateway, key, { action: "model:invoke", model: "m", environment: "prod" }));
      expect(answers.slice(0, 3).map((a) => a.status)).toEqual([200, 200, 200]);
      expect(answers.at(-1)).toMatchObject({ status: 429, body: { allowed: false } });
    } finally {
      await gateway.close();
    }
  });
});
