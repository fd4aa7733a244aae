import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret, parseSecret } from "../src/auth/secrets.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

let app: TestApp;
let org: SeededOrg;
let teamId: string;
let otherTeamId: string;
const env = {} as Record<"staging" | "production" | "restricted", string>;
const models = {} as Record<"llama" | "whisper", string>;

const createKey = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id prefix keyKind type team { id } environments { name } models { name } } } }`;

async function teamKey(type: string, scope: { environmentIds?: string[]; modelIds?: string[] } = {}, team = teamId) {
  const data = await app.ok(org.admin.key, createKey, { input: { name: `${type} key`, teamId: team, type, ...scope } });
  return data.createApiKey as { secret: string; apiKey: { id: string } };
}

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Serving");
  otherTeamId = await app.seed.team(org, "Elsewhere");
  const admin = org.admin.key;
  for (const [name, restricted] of [["staging", false], ["production", false], ["restricted", true]] as const) {
    env[name] = (await app.ok(admin, `mutation($t: ID!, $n: String!, $r: Boolean) { createEnvironment(teamId: $t, name: $n, restricted: $r) { id } }`, { t: teamId, n: name, r: restricted })).createEnvironment.id;
  }
  for (const name of ["llama", "whisper"] as const) {
    models[name] = (await app.ok(admin, `mutation($t: ID!, $n: String!) { createModel(teamId: $t, name: $n) { id } }`, { t: teamId, n: name })).createModel.id;
  }
  await app.ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: otherTeamId });
  await app.ok(admin, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: otherTeamId });
});
afterAll(() => app?.close());

describe("the key table of PRODUCT.md §6, through /v1/authorize", () => {
  // type → [model:invoke, metrics:read, environment:manage] in an unrestricted environment
  const TABLE: Record<string, [boolean, boolean, boolean]> = {
    FULL_ACCESS: [true, true, true],
    INFERENCE_ONLY: [true, false, false],
    METRICS_ONLY: [false, true, false],
  };
  const ACTIONS = ["model:invoke", "metrics:read", "environment:manage"] as const;
  const cases = Object.entries(TABLE).flatMap(([type, allowed]) => ACTIONS.map((action, i) => ({ type, action, allowed: allowed[i]! })));
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    for (const type of Object.keys(TABLE)) secrets.set(type, (await teamKey(type)).secret);
  });

  it.each(cases)("$type → $action: $allowed", async ({ type, action, allowed }) => {
    const result = await authorize(app, secrets.get(type), { action, model: "llama", environment: "staging" });
    expect(result.status).toBe(allowed ? 200 : 403);
    expect(result.body.allowed).toBe(allowed);
    if (!allowed) expect(result.body.reason).toBeTruthy();
  });

  it.each(Object.keys(TABLE))("a %s key never reaches another team's model", async (type) => {
    const named = await authorize(app, secrets.get(type), { action: "model:invoke", team: otherTeamId, model: "llama", environment: "staging" });
    expect(named).toMatchObject({ status: 403, body: { allowed: false } });
  });

  it("a FULL_ACCESS key manages a restricted environment only once granted", async () => {
    const { secret, apiKey } = await teamKey("FULL_ACCESS");
    expect((await authorize(app, secret, { action: "environment:manage", model: "llama", environment: "restricted" })).status).toBe(403);
    // Restriction never affects inference or metrics.
    expect((await authorize(app, secret, { action: "model:invoke", model: "llama", environment: "restricted" })).status).toBe(200);
    await app.ok(org.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: env.restricted, p: apiKey.id });
    expect((await authorize(app, secret, { action: "environment:manage", model: "llama", environment: "restricted" })).status).toBe(200);
  });

  const SCOPES = [
    { label: "environment scope [production]", scope: () => ({ environmentIds: [env.production] }), reaches: (_m: string, e: string) => e === "production" },
    { label: "model scope [whisper]", scope: () => ({ modelIds: [models.whisper] }), reaches: (m: string) => m === "whisper" },
    {
      label: "both scopes [staging] × [llama]",
      scope: () => ({ environmentIds: [env.staging], modelIds: [models.llama] }),
      reaches: (m: string, e: string) => m === "llama" && e === "staging",
    },
  ];
  const scopeCases = ["FULL_ACCESS", "INFERENCE_ONLY", "METRICS_ONLY"].flatMap((type) => SCOPES.map((s) => ({ type, ...s })));

  it.each(scopeCases)("a $type key with $label works only inside its scope", async ({ type, scope, reaches }) => {
    const { secret } = await teamKey(type, scope());
    const action = type === "METRICS_ONLY" ? "metrics:read" : "model:invoke";
    for (const model of ["llama", "whisper"]) {
      for (const environment of ["staging", "production"]) {
        const result = await authorize(app, secret, { action, model, environment });
        expect({ model, environment, allowed: result.body.allowed }).toEqual({ model, environment, allowed: reaches(model, environment) });
      }
    }
  });
});

describe("the Baseten worked examples", () => {
  it("an INFERENCE_ONLY key scoped to production calls every model there and nothing in staging", async () => {
    const { secret } = await teamKey("INFERENCE_ONLY", { environmentIds: [env.production] });
    for (const model of ["llama", "whisper", models.llama]) {
      expect((await authorize(app, secret, { action: "model:invoke", model, environment: "production" })).status).toBe(200);
      expect((await authorize(app, secret, { action: "model:invoke", model, environment: "staging" })).status).toBe(403);
    }
  });

  it("a FULL_ACCESS key scoped to one model deploys to that model in every unrestricted environment and to nothing else", async () => {
    const { secret } = await teamKey("FULL_ACCESS", { modelIds: [models.whisper] });
    const deploy = `mutation($m: String!, $e: String!) { deployModel(input: { modelName: $m, environment: $e }) { model { name } environment { name } createdBy { id kind } } }`;
    for (const environment of ["staging", "production"]) {
      const deployed = await app.ok(secret, deploy, { m: "whisper", e: environment });
      expect(deployed.deployModel).toMatchObject({ model: { name: "whisper" }, environment: { name: environment }, createdBy: { kind: "API_KEY" } });
    }
    expect(codes(await app.gql(secret, deploy, { m: "whisper", e: "restricted" }))).toEqual(["FORBIDDEN"]);
    // Outside its model scope the key cannot even see the model: it answers exactly as a name
    // the team does not have (issue 11, hole 5), and the key cannot create a model either.
    const outOfScope = await app.gql(secret, deploy, { m: "llama", e: "staging" });
    expect(codes(outOfScope)).toEqual(["FORBIDDEN"]);
    expect(await app.gql(secret, deploy, { m: "brand-new", e: "staging" })).toEqual(outOfScope);
    const created = await app.orgraph.deps.db.selectFrom("models").select("id").where("name", "=", "brand-new").execute();
    expect(created).toEqual([]);
  });
});

describe("credentials in GraphQL", () => {
  it("a team key is no user and reaches only its team; INFERENCE_ONLY and METRICS_ONLY keys read nothing", async () => {
    const full = await teamKey("FULL_ACCESS");
    const viewer = await app.ok(full.secret, `{ viewer { user { id } principal { id kind } teams { id } organizations { id } } }`);
    expect(viewer.viewer).toEqual({ user: null, principal: { id: full.apiKey.id, kind: "API_KEY" }, teams: [{ id: teamId }], organizations: [] });
    expect((await app.ok(full.secret, `query($t: ID!) { team(id: $t) { models { edges { node { name } } } } }`, { t: teamId })).team.models.edges).toHaveLength(2);
    expect(codes(await app.gql(full.secret, `query($t: ID!) { team(id: $t) { name } }`, { t: otherTeamId }))).toEqual(["NOT_FOUND"]);

    for (const type of ["INFERENCE_ONLY", "METRICS_ONLY"]) {
      const key = await teamKey(type);
      expect((await app.ok(key.secret, `{ viewer { teams { id } } }`)).viewer.teams).toEqual([]);
      expect(codes(await app.gql(key.secret, `query($t: ID!) { team(id: $t) { name } }`, { t: teamId }))).toEqual(["NOT_FOUND"]);
      expect(codes(await app.gql(key.secret, `query($m: ID!) { node(id: $m) { id } }`, { m: models.llama }))).toEqual(["NOT_FOUND"]);
    }
  });

  it("a FULL_ACCESS key acts like a team MEMBER: no member management, no secrets management, no keys", async () => {
    const full = await teamKey("FULL_ACCESS");
    expect(codes(await app.gql(full.secret, `mutation($t: ID!) { setSecret(teamId: $t, name: "X", value: "y") { name } }`, { t: teamId }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(full.secret, createKey, { input: { name: "escalate", teamId, type: "FULL_ACCESS" } }))).toEqual(["FORBIDDEN"]);
    expect(codes(await app.gql(full.secret, `mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, principalId: $u, role: ADMIN) { role } }`, { t: teamId, u: org.admin.userId }))).toEqual(["FORBIDDEN"]);
    const perms = await app.ok(full.secret, `query($t: ID!) { viewerPermissions(on: $t) }`, { t: teamId });
    expect(perms.viewerPermissions).toContain("resources:write");
    expect(perms.viewerPermissions).not.toContain("resources:delete");
  });
});

describe("creating, listing and revoking keys", () => {
  it("only team ADMINs and org ADMINs create team keys; anyone creates their own personal key", async () => {
    const lead = await app.seed.member(org, "MEMBER", [{ teamId, role: "ADMIN" }], "lead");
    const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], "member");
    expect((await app.ok(lead.key, createKey, { input: { name: "ci", teamId, type: "INFERENCE_ONLY" } })).createApiKey.apiKey.keyKind).toBe("TEAM");
    expect(codes(await app.gql(member.key, createKey, { input: { name: "ci", teamId, type: "INFERENCE_ONLY" } }))).toEqual(["FORBIDDEN"]);
    const personal = await app.ok(member.key, createKey, { input: { name: "laptop" } });
    expect(personal.createApiKey.apiKey).toMatchObject({ keyKind: "PERSONAL", type: null, team: null });
    expect((await app.ok(personal.createApiKey.secret, `{ viewer { user { id } } }`)).viewer.user.id).toBe(member.userId);
  });

  it("shows the secret once, stores only its hash, and names its kind in the prefix", async () => {
    const { secret, apiKey } = (await app.ok(org.admin.key, createKey, { input: { name: "shown once", teamId, type: "METRICS_ONLY" } })).createApiKey;
    expect(secret.startsWith("ogt_")).toBe(true);
    expect(parseSecret(secret)).toBe("ogt");
    expect(secret.startsWith(apiKey.prefix)).toBe(true);
    const row = await app.orgraph.deps.db.selectFrom("api_keys").selectAll().where("id", "=", apiKey.id).executeTakeFirstOrThrow();
    expect(row.secret_hash).toBe(hashSecret(secret));
    expect(JSON.stringify(row)).not.toContain(secret.slice(12));
    const listed = await app.ok(org.admin.key, `query($t: ID!) { team(id: $t) { apiKeys { id prefix } } }`, { t: teamId });
    expect(listed.team.apiKeys).toContainEqual({ id: apiKey.id, prefix: apiKey.prefix });
  });

  it("Team.apiKeys is FORBIDDEN to non-admins", async () => {
    const viewer = await app.seed.member(org, "MEMBER", [{ teamId, role: "VIEWER" }], "viewer");
    expect(codes(await app.gql(viewer.key, `query($t: ID!) { team(id: $t) { apiKeys { id } } }`, { t: teamId }))).toEqual(["FORBIDDEN"]);
  });

  it("scope ids must belong to the key's team, and type is required", async () => {
    const foreignEnv = (await app.ok(org.admin.key, `query($t: ID!) { team(id: $t) { environments { id } } }`, { t: otherTeamId })).team.environments[0].id;
    for (const input of [
      { name: "k", teamId, type: "FULL_ACCESS", environmentIds: [foreignEnv] },
      { name: "k", teamId, type: "FULL_ACCESS", modelIds: [env.staging] },
      { name: "k", teamId, type: "FULL_ACCESS", environmentIds: [] },
      { name: "k", teamId },
      { name: "k", type: "FULL_ACCESS" },
      { name: "k", teamId, type: "FULL_ACCESS", expiresAt: "2000-01-01T00:00:00Z" },
    ]) {
      expect(codes(await app.gql(org.admin.key, createKey, { input }))).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("records when a key was last used, without a write per request", async () => {
    const { secret, apiKey } = await teamKey("INFERENCE_ONLY");
    await authorize(app, secret, { action: "model:invoke", model: "llama", environment: "staging" });
    await app.orgraph.deps.keyLastUsed.flush();
    const listed = await app.ok(org.admin.key, `query($id: ID!) { node(id: $id) { ... on ApiKey { lastUsedAt } } }`, { id: apiKey.id });
    expect(new Date(listed.node.lastUsedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("a revoked key gets 401 on the very next request; an expired one too", async () => {
    const { secret, apiKey } = await teamKey("INFERENCE_ONLY");
    const body = { action: "model:invoke", model: "llama", environment: "staging" };
    expect((await authorize(app, secret, body)).status).toBe(200);
    const revoked = await app.ok(org.admin.key, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: apiKey.id });
    expect(revoked.revokeApiKey.revokedAt).toBeTruthy();
    expect((await authorize(app, secret, body)).status).toBe(401);
    expect(codes(await app.gql(secret, `{ viewer { teams { id } } }`))).toEqual(["UNAUTHENTICATED"]);
    // Its capabilities are gone from SpiceDB as well, not only refused at the door.
    const left = await app.orgraph.deps.db.selectFrom("authz_relationships").select("relation").where("subject_id", "=", apiKey.id).execute();
    expect(left).toEqual([]);

    // Expiry is checked on every use, also of a key the cache holds (nothing changes when a key expires).
    const expiresAt = Date.now() + 1_500;
    const expiring = await app.ok(org.admin.key, createKey, { input: { name: "short", teamId, type: "INFERENCE_ONLY", expiresAt: new Date(expiresAt).toISOString() } });
    expect((await authorize(app, expiring.createApiKey.secret, body)).status).toBe(200);
    expect((await authorize(app, expiring.createApiKey.secret, body)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 50));
    expect((await authorize(app, expiring.createApiKey.secret, body)).status).toBe(401);
  });

  it("a member cannot revoke a team key (FORBIDDEN or NOT_FOUND), nor someone else's personal key", async () => {
    const { apiKey } = await teamKey("INFERENCE_ONLY");
    const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], "revoker");
    expect(codes(await app.gql(member.key, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: apiKey.id }))).toEqual(["NOT_FOUND"]);
    const someone = await app.seed.member(org, "MEMBER", [], "someone");
    const theirs = (await app.ok(someone.key, createKey, { input: { name: "mine" } })).createApiKey.apiKey.id;
    expect(codes(await app.gql(member.key, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: theirs }))).toEqual(["NOT_FOUND"]);
    expect((await app.ok(someone.key, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: theirs })).revokeApiKey.revokedAt).toBeTruthy();
  });
});

describe("personal keys and the gateway", () => {
  it("act as their user, need a team, and become useless in the organization the moment the user is removed", async () => {
    const person = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }], "operator");
    const body = { action: "model:invoke", team: teamId, model: "llama", environment: "staging" };
    expect((await authorize(app, person.key, body)).status).toBe(200);
    expect((await authorize(app, person.key, { ...body, action: "environment:manage" })).status).toBe(403);
    expect((await authorize(app, person.key, { action: "model:invoke", model: "llama", environment: "staging" })).status).toBe(400);
    await app.ok(org.admin.key, `mutation($o: ID!, $u: ID!) { removeMember(organizationId: $o, userId: $u) }`, { o: org.orgId, u: person.userId });
    expect((await authorize(app, person.key, body)).status).toBe(403);
  });
});

describe("service accounts", () => {
  it("are created by team ADMINs with a role, listed as members, and act through their keys", async () => {
    const viewer = await app.seed.member(org, "MEMBER", [{ teamId, role: "VIEWER" }], "sa-viewer");
    const create = `mutation($t: ID!, $n: String!, $r: TeamRole!) { createServiceAccount(teamId: $t, name: $n, role: $r) { secret serviceAccount { id kind name role team { id } } apiKey { keyKind } } }`;
    expect(codes(await app.gql(viewer.key, create, { t: teamId, n: "ci-bot", r: "MEMBER" }))).toEqual(["FORBIDDEN"]);
    const created = (await app.ok(org.admin.key, create, { t: teamId, n: "ci-bot", r: "OPERATOR" })).createServiceAccount;
    expect(created.serviceAccount).toMatchObject({ kind: "SERVICE_ACCOUNT", name: "ci-bot", role: "OPERATOR", team: { id: teamId } });
    expect(created.apiKey.keyKind).toBe("SERVICE_ACCOUNT");
    expect(created.secret.startsWith("ogs_")).toBe(true);

    const team = await app.ok(viewer.key, `query($t: ID!) { team(id: $t) { serviceAccounts { id } members(first: 100) { edges { node { role principal { id kind } } } } } }`, { t: teamId });
    expect(team.team.serviceAccounts).toEqual([{ id: created.serviceAccount.id }]);
    expect(team.team.members.edges.map((e: any) => e.node)).toContainEqual({ role: "OPERATOR", principal: { id: created.serviceAccount.id, kind: "SERVICE_ACCOUNT" } });

    const me = await app.ok(created.secret, `{ viewer { user { id } principal { id kind } teams { id } } }`);
    expect(me.viewer).toEqual({ user: null, principal: { id: created.serviceAccount.id, kind: "SERVICE_ACCOUNT" }, teams: [{ id: teamId }] });
    const body = { action: "model:invoke", model: "llama", environment: "staging" };
    expect((await authorize(app, created.secret, body)).status).toBe(200);
    expect((await authorize(app, created.secret, { ...body, action: "environment:manage" })).status).toBe(403);

    // Re-role it, then remove it: its key is useless at once.
    await app.ok(org.admin.key, `mutation($t: ID!, $p: ID!) { setTeamRole(teamId: $t, principalId: $p, role: MEMBER) { role } }`, { t: teamId, p: created.serviceAccount.id });
    expect((await authorize(app, created.secret, { ...body, action: "environment:manage" })).status).toBe(200);
    await app.ok(org.admin.key, `mutation($t: ID!, $p: ID!) { removeTeamMember(teamId: $t, principalId: $p) }`, { t: teamId, p: created.serviceAccount.id });
    expect((await authorize(app, created.secret, body)).status).toBe(401);
  });
});

describe("/v1/authorize input", () => {
  let secret: string;
  beforeAll(async () => {
    secret = (await teamKey("INFERENCE_ONLY")).secret;
  });

  it.each([
    ["not JSON", "{nope"],
    ["an array", [1]],
    ["an unknown action", { action: "delete", model: "llama", environment: "staging" }],
    ["an inherited property as action", { action: "constructor", model: "llama", environment: "staging" }],
    ["no model", { action: "model:invoke", environment: "staging" }],
    ["no environment", { action: "model:invoke", model: "llama" }],
    ["a malformed team", { action: "model:invoke", team: "x", model: "llama", environment: "staging" }],
  ])("%s is 400", async (_label, body) => {
    expect((await authorize(app, secret, body)).status).toBe(400);
  });

  it("an unknown action's error lists the canonical actions", async () => {
    const answer = await authorize(app, secret, { action: "deploy", model: "llama", environment: "staging" });
    expect(answer).toEqual({ status: 400, body: { error: '"action" must be one of "model:invoke", "metrics:read", "environment:manage" (deprecated: "invoke", "read_metrics", "manage")' } });
  });

  it("each deprecated action name answers exactly as its canonical name, allowed and denied", async () => {
    // [alias, canonical, key type it allows, key type it denies] in the unrestricted staging
    const ALIASES = [
      ["invoke", "model:invoke", "INFERENCE_ONLY", "METRICS_ONLY"],
      ["read_metrics", "metrics:read", "METRICS_ONLY", "INFERENCE_ONLY"],
      ["manage", "environment:manage", "FULL_ACCESS", "INFERENCE_ONLY"],
    ] as const;
    // Two keys per type, so that neither answer is the other's cached decision.
    const keys = new Map<string, [string, string]>();
    for (const type of ["INFERENCE_ONLY", "METRICS_ONLY", "FULL_ACCESS"]) keys.set(type, [(await teamKey(type)).secret, (await teamKey(type)).secret]);
    for (const [alias, canonical, allows, denies] of ALIASES) {
      for (const [type, status] of [[allows, 200], [denies, 403]] as const) {
        const [aliasKey, canonicalKey] = keys.get(type)!;
        const byAlias = await authorize(app, aliasKey, { action: alias, model: "llama", environment: "staging" });
        expect({ alias, type, status: byAlias.status }).toEqual({ alias, type, status });
        expect(byAlias).toEqual(await authorize(app, canonicalKey, { action: canonical, model: "llama", environment: "staging" }));
      }
    }
  });

  it("no credentials or an unknown key is 401; GET is 405", async () => {
    const body = { action: "model:invoke", model: "llama", environment: "staging" };
    expect((await authorize(app, undefined, body)).status).toBe(401);
    expect((await authorize(app, "ogt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", body)).status).toBe(401);
    expect((await app.fetch("/v1/authorize")).status).toBe(405);
    expect((await app.http("/v1/authorize")).status).toBe(405);
  });

  it("a body over MAX_BODY_BYTES is 413, announced or streamed without a length", async () => {
    const headers = { "content-type": "application/json", authorization: `Bearer ${secret}` };
    const huge = JSON.stringify({ action: "model:invoke", model: "llama", environment: "staging", padding: "x".repeat(1_100_000) });
    expect((await app.http("/v1/authorize", { method: "POST", headers, body: huge })).status).toBe(413);
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(huge));
        controller.close();
      },
    });
    const streamed = await app.http("/v1/authorize", { method: "POST", headers, body: chunked, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it("the in-process route (yoga.fetch) answers as the HTTP listener does", async () => {
    const ask = (via: "fetch" | "http", body: unknown) =>
      app[via]("/v1/authorize", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${secret}` }, body: JSON.stringify(body) }).then(
        async (response) => [response.status, await response.json()],
      );
    for (const body of [{ action: "model:invoke", model: "llama", environment: "staging" }, { action: "model:invoke", model: "nope", environment: "staging" }, { action: "x" }]) {
      expect(await ask("fetch", body)).toEqual(await ask("http", body));
    }
  });

  it("an unknown model or environment is a deny, not an error", async () => {
    expect(await authorize(app, secret, { action: "model:invoke", model: "nope", environment: "staging" })).toMatchObject({ status: 403 });
    expect(await authorize(app, secret, { action: "model:invoke", model: "llama", environment: "nope" })).toMatchObject({ status: 403 });
  });
});

describe("usage", () => {
  it("counts every allowed invoke per team; ADMIN and BILLING_ADMIN see it, MEMBER does not", async () => {
    const usageOrg = await app.seed.org("Metered");
    const team = await app.seed.team(usageOrg, "Billed");
    await app.ok(usageOrg.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: team });
    await app.ok(usageOrg.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: team });
    const key = (await app.ok(usageOrg.admin.key, createKey, { input: { name: "gw", teamId: team, type: "INFERENCE_ONLY" } })).createApiKey.secret;
    // The deprecated alias `invoke` counts as `model:invoke` does.
    for (const action of ["model:invoke", "model:invoke", "invoke", "model:invoke", "invoke"]) {
      expect((await authorize(app, key, { action, model: "m", environment: "prod" })).status).toBe(200);
    }
    // Denied calls and other actions do not count.
    await authorize(app, key, { action: "metrics:read", model: "m", environment: "prod" });
    await authorize(app, key, { action: "read_metrics", model: "m", environment: "prod" });
    await authorize(app, key, { action: "model:invoke", model: "m", environment: "nope" });

    const query = `query($o: ID!, $from: DateTime) { organization(id: $o) { usage(from: $from) { totalInvocations byTeam { team { id name } invocations } } } }`;
    const billing = await app.seed.member(usageOrg, "BILLING_ADMIN", [], "billing");
    for (const viewerKey of [usageOrg.admin.key, billing.key]) {
      const usage = (await app.ok(viewerKey, query, { o: usageOrg.orgId })).organization.usage;
      expect(usage).toEqual({ totalInvocations: 5, byTeam: [{ team: { id: team, name: "Billed" }, invocations: 5 }] });
    }
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await app.ok(usageOrg.admin.key, query, { o: usageOrg.orgId, from: future })).organization.usage.totalInvocations).toBe(0);
    const member = await app.seed.member(usageOrg, "MEMBER", null, "member");
    expect(codes(await app.gql(member.key, query, { o: usageOrg.orgId }))).toEqual(["FORBIDDEN"]);
  });
});
