import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { codes, startTestApp, type TestApp } from "./helpers/app.js";
import { createTestDatabase } from "./helpers/database.js";
import { authorize } from "./helpers/gateway.js";
import { startGrpcShimOverEmbeddedSpiceDb, type GrpcShimOverEmbeddedSpiceDb } from "./helpers/grpc-shim-over-embedded-spicedb.js";
import { runScript } from "./helpers/process.js";
import { authorizeFrom, gqlFrom, listenEverywhere } from "./helpers/http-from.js";
import { findDrift } from "../src/authz/drift.js";
import { connectRemoteSpiceDb } from "../src/authz/client.js";
import { ConsistencyTracker } from "../src/authz/consistency.js";
import { OutboxApplier } from "../src/authz/outbox-applier.js";
import { createApp } from "../src/app.js";
import { createAuthzCaches, startOrgraph } from "../src/orgraph.js";

/**
 * Orgraph's production path (SPICEDB_ENDPOINT + token, through @authzed/authzed-node over
 * real gRPC on a socket), against a grpc-js shim over the embedded SpiceDB, not a SpiceDB
 * cluster: see helpers/grpc-shim-over-embedded-spicedb.ts for what that cannot prove.
 */
let spicedb: GrpcShimOverEmbeddedSpiceDb;
let app: TestApp;

beforeAll(async () => {
  spicedb = await startGrpcShimOverEmbeddedSpiceDb();
  app = await startTestApp({ env: { SPICEDB_ENDPOINT: spicedb.endpoint, SPICEDB_TOKEN: spicedb.token, SPICEDB_TLS: "false" } });
});
afterAll(async () => {
  await app?.close();
  await spicedb?.close();
});

describe("the remote SpiceDB path, against a grpc-js shim over the embedded SpiceDB (not a SpiceDB cluster)", () => {
  it("writes the schema, writes relationships, checks, bulk checks and looks up", async () => {
    expect(app.orgraph.deps.config.spicedb.kind).toBe("remote");
    const org = await app.seed.org();
    const teamId = await app.seed.team(org, "Remote");
    const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }]);
    expect((await app.ok(member.key, `{ viewer { teams { id } } }`)).viewer.teams).toEqual([{ id: teamId }]);
    const perms = await app.ok(member.key, `query($t: ID!) { viewerPermissions(on: $t) }`, { t: teamId });
    expect(perms.viewerPermissions).toContain("models:invoke");
    expect(perms.viewerPermissions).not.toContain("resources:write");
    // A traced CheckPermission (explainPermission) over gRPC: the trace survives the wire.
    const explained = await app.ok(member.key, `query($t: ID!) { explainPermission(on: $t, permission: "models:invoke") { allowed path } }`, { t: teamId });
    expect(explained.explainPermission).toEqual({ allowed: true, path: ["team OPERATOR"] });

    await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId });
    await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId });
    const key = (await app.ok(org.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "gw", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: teamId })).createApiKey.secret;
    expect((await authorize(app, key, { action: "model:invoke", model: "m", environment: "prod" })).status).toBe(200);

    // A revocation through the remote path holds on the next request.
    await app.ok(org.admin.key, `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`, { t: teamId, u: member.userId });
    expect(codes(await app.gql(member.key, `query($t: ID!) { viewerPermissions(on: $t) }`, { t: teamId }))).toEqual(["NOT_FOUND"]);
  });

  it("IP allowlists: caveated writes, the caller's address on checks and lookups, and caveats read back, all over gRPC", async () => {
    const org = await app.seed.org("Allowlisted");
    const teamId = await app.seed.team(org, "Narrow");
    const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }], "allowlisted");
    await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId });
    await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId });
    const key = (await app.ok(org.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "gw", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: teamId })).createApiKey.secret;
    const { server, port } = await listenEverywhere(app);
    try {
      const set = await gqlFrom(port, "127.0.0.2", org.admin.key, `mutation($t: ID!) { setIpAllowlist(scopeId: $t, cidrs: ["127.0.0.2", "::1"]) }`, { t: teamId });
      expect(set.json.data.setIpAllowlist).toEqual(["127.0.0.2/32", "::1/128"]);
      const invoke = { action: "model:invoke", model: "m", environment: "prod" };
      expect((await authorizeFrom(port, "127.0.0.2", key, invoke)).status).toBe(200);
      expect((await authorizeFrom(port, "::1", key, invoke)).status).toBe(200);
      expect((await authorizeFrom(port, "127.0.0.3", key, invoke)).json.code).toBe("IP_NOT_ALLOWED");
      // LookupResources carries the address too (viewer.teams).
      expect((await gqlFrom(port, "127.0.0.2", member.key, `{ viewer { teams { id } } }`)).json.data.viewer.teams).toContainEqual({ id: teamId });
      expect((await gqlFrom(port, "127.0.0.3", member.key, `{ viewer { teams { id } } }`)).json.data.viewer.teams).not.toContainEqual({ id: teamId });
      // The caveat and its context come back from ReadRelationships: the record and SpiceDB agree.
      const drift = await findDrift(app.orgraph.deps.db, app.orgraph.deps.authzClient);
      expect(drift).toEqual({ missing: [], extra: [] });
      const stored = await app.orgraph.deps.authzClient.readRelationships("team");
      expect(stored.find((r) => r.resource.id === teamId && r.relation === "ip_allowed" && r.subject.type === "api_key")?.caveat).toEqual({
        name: "ip_allowlist",
        context: { cidrs: ["127.0.0.2/32", "::1/128"] },
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("fails closed when SpiceDB stops answering, and recovers by itself", async () => {
    const org = await app.seed.org("Outage");
    const member = await app.seed.member(org, "MEMBER", [], "outage");
    const orgName = `query($o: ID!) { organization(id: $o) { name } }`;
    await app.ok(org.admin.key, orgName, { o: org.orgId });
    spicedb.setAvailable(false);
    try {
      // A question SpiceDB has not answered since the last change fails closed...
      expect(codes(await app.gql(member.key, orgName, { o: org.orgId }))).toEqual(["AUTHZ_UNAVAILABLE"]);
      // ...one it has is still answered: nothing changed since, so the answer still holds
      // (and no change can be acknowledged until SpiceDB is back).
      expect((await app.ok(org.admin.key, orgName, { o: org.orgId })).organization.name).toBe("Outage");
      expect((await app.fetch("/readyz")).status).toBe(503);
    } finally {
      spicedb.setAvailable(true);
    }
    expect((await app.ok(member.key, orgName, { o: org.orgId })).organization.name).toBe("Outage");
    expect((await app.ok(org.admin.key, orgName, { o: org.orgId })).organization.name).toBe("Outage");
    expect((await app.fetch("/readyz")).status).toBe(200);
  });

  it("refuses to start with a wrong token, saying why", async () => {
    const database = await createTestDatabase();
    const config = loadConfig({
      ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}),
      ORGRAPH_DATA_DIR: database.dataDir,
      SPICEDB_ENDPOINT: spicedb.endpoint,
      SPICEDB_TOKEN: "wrong",
      SPICEDB_TLS: "false",
    });
    await expect(startOrgraph(config, createLogger("silent"))).rejects.toThrow(/UNAUTHENTICATED|invalid preshared key/);
    await database.drop();
  });

  it("npm run authz:verify prints drift and exits 1; --repair converges SpiceDB to the record", async () => {
    const ownSpicedb = await startGrpcShimOverEmbeddedSpiceDb();
    const env = { SPICEDB_ENDPOINT: ownSpicedb.endpoint, SPICEDB_TOKEN: ownSpicedb.token, SPICEDB_TLS: "false" };
    const own = await startTestApp({ env });
    const org = await own.seed.org("Drifting");
    const stray = { resource: { type: "organization", id: org.orgId }, relation: "admin", subject: { type: "user", id: "usr_0000000000000000000000000abc" } };
    const client = connectRemoteSpiceDb({ endpoint: ownSpicedb.endpoint, token: ownSpicedb.token, tls: false });
    await client.write([{ operation: "touch", relationship: stray }]);
    client.close();
    await own.orgraph.close(); // release the data folder; keep the database

    const cliEnv = { ...env, ORGRAPH_DATA_DIR: own.database.dataDir, DATABASE_URL: own.database.databaseUrl ?? "" };
    const drifted = await runScript("authz:verify", [], cliEnv);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain(`extra in SpiceDB:   organization:${org.orgId}#admin@user:usr_0000000000000000000000000abc`);
    const repaired = await runScript("authz:verify", ["--repair"], cliEnv);
    expect(repaired.stdout).toContain("repaired: touched 0, deleted 1");
    expect(repaired.code).toBe(0);
    const after = await runScript("authz:verify", [], cliEnv);
    expect(after).toMatchObject({ code: 0, stdout: expect.stringContaining("no drift") });
    await own.database.drop();
    await ownSpicedb.close();
  });

  /** A second API instance on the same Postgres and SpiceDB, with its own client, tokens and caches, as a second process would have. */
  function secondInstance() {
    const client = connectRemoteSpiceDb({ endpoint: spicedb.endpoint, token: spicedb.token, tls: false });
    const consistency = new ConsistencyTracker(app.orgraph.deps.db);
    const outbox = new OutboxApplier(app.orgraph.deps.db, client, consistency, app.orgraph.deps.logger);
    const other = createApp({ ...app.orgraph.deps, authzClient: client, consistency, outbox, caches: createAuthzCaches() });
    return { other, client };
  }

  it("several API instances (one process, each with its own SpiceDB client, tokens and caches): a revocation acknowledged by one is enforced by another on its next request", async () => {
    const { other, client } = secondInstance();
    const gqlOn = async (target: typeof other, key: string, query: string, variables: Record<string, unknown>) =>
      (await (await target.fetch(new Request("http://orgraph/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
      }))).json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
    try {
      const org = await app.seed.org("Two processes");
      const teamId = await app.seed.team(org, "Shared");
      for (let round = 0; round < 20; round++) {
        const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], `two-${round}`);
        // B writes (so its own last token is older than what follows), and sees the member's grant.
        await gqlOn(other, org.admin.key, `mutation($o: ID!, $n: String!) { createTeam(organizationId: $o, name: $n) { id } }`, { o: org.orgId, n: `b-${round}` });
        expect((await gqlOn(other, member.key, `query($t: ID!) { team(id: $t) { id } }`, { t: teamId })).errors).toBeUndefined();
        // A revokes and acknowledges; B's next request must already refuse.
        await app.ok(org.admin.key, `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`, { t: teamId, u: member.userId });
        const after = await gqlOn(other, member.key, `query($t: ID!) { team(id: $t) { id } }`, { t: teamId });
        expect(after.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      }
    } finally {
      client.close();
    }
  });

  it("several API instances (one process, each with its own SpiceDB client, tokens and caches): the gateway's cached allows end with a change acknowledged by another process", async () => {
    const { other, client } = secondInstance();
    const authorizeOn = async (key: string, body: Record<string, unknown>) =>
      (await other.fetch(new Request("http://orgraph/v1/authorize", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify(body),
      }))).status;
    try {
      const org = await app.seed.org("Gateway caches");
      const teamId = await app.seed.team(org, "Cached");
      const envId = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod", restricted: true) { id } }`, { t: teamId })).createEnvironment.id;
      let modelId = (await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId })).createModel.id;
      const admin = (query: string, variables: Record<string, unknown>) => app.ok(org.admin.key, query, variables);
      for (let round = 0; round < 10; round++) {
        const key = (await admin(`mutation($t: ID!) { createApiKey(input: { name: "k", teamId: $t, type: FULL_ACCESS }) { secret apiKey { id } } }`, { t: teamId })).createApiKey;
        // Managing a model in a restricted environment needs an environment grant.
        const manage = { action: "environment:manage", model: "m", environment: "prod" };
        // Granted in A; B answers (twice: the second from its cache).
        await admin(`mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: envId, p: key.apiKey.id });
        expect([await authorizeOn(key.secret, manage), await authorizeOn(key.secret, manage)]).toEqual([200, 200]);
        // Revoked in A: B refuses at once.
        await admin(`mutation($e: ID!, $p: ID!) { revokeEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: envId, p: key.apiKey.id });
        expect(await authorizeOn(key.secret, manage)).toBe(403);
        // The model deleted in A: B no longer finds it by name.
        await admin(`mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: envId, p: key.apiKey.id });
        expect(await authorizeOn(key.secret, manage)).toBe(200);
        await admin(`mutation($m: ID!) { deleteModel(id: $m) }`, { m: modelId });
        expect(await authorizeOn(key.secret, manage)).toBe(403);
        modelId = (await admin(`mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId })).createModel.id;
        expect(await authorizeOn(key.secret, manage)).toBe(200);
        // The key itself revoked in A: B no longer knows it.
        await admin(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: key.apiKey.id });
        expect(await authorizeOn(key.secret, manage)).toBe(401);
      }
    } finally {
      client.close();
    }
  });
});
