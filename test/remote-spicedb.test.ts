import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startOrgraph } from "../src/orgraph.js";
import { codes, startTestApp, type TestApp } from "./helpers/app.js";
import { createTestDatabase } from "./helpers/database.js";
import { authorize } from "./helpers/gateway.js";
import { startGrpcSpiceDb, type GrpcSpiceDb } from "./helpers/grpc-spicedb.js";
import { runScript } from "./helpers/process.js";
import { connectRemoteSpiceDb } from "../src/authz/client.js";
import { ConsistencyTracker, RelationshipSync } from "../src/authz/relationships.js";
import { createApp } from "../src/app.js";

/**
 * The production path: SPICEDB_ENDPOINT + token, through @authzed/authzed-node over gRPC, to
 * a real SpiceDB listening on a socket.
 */
let spicedb: GrpcSpiceDb;
let app: TestApp;

beforeAll(async () => {
  spicedb = await startGrpcSpiceDb();
  app = await startTestApp({ env: { SPICEDB_ENDPOINT: spicedb.endpoint, SPICEDB_TOKEN: spicedb.token, SPICEDB_TLS: "false" } });
});
afterAll(async () => {
  await app?.close();
  await spicedb?.close();
});

describe("Orgraph on a remote SpiceDB over gRPC", () => {
  it("writes the schema, writes relationships, checks, bulk checks and looks up", async () => {
    expect(app.orgraph.deps.config.spicedb.kind).toBe("remote");
    const org = await app.seed.org();
    const teamId = await app.seed.team(org, "Remote");
    const member = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }]);
    expect((await app.ok(member.key, `{ viewer { teams { id } } }`)).viewer.teams).toEqual([{ id: teamId }]);
    const perms = await app.ok(member.key, `query($t: ID!) { viewerPermissions(on: $t) }`, { t: teamId });
    expect(perms.viewerPermissions).toContain("models:invoke");
    expect(perms.viewerPermissions).not.toContain("resources:write");

    await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId });
    await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "m") { id } }`, { t: teamId });
    const key = (await app.ok(org.admin.key, `mutation($t: ID!) { createApiKey(input: { name: "gw", teamId: $t, type: INFERENCE_ONLY }) { secret } }`, { t: teamId })).createApiKey.secret;
    expect((await authorize(app, key, { action: "invoke", model: "m", environment: "prod" })).status).toBe(200);

    // A revocation through the remote path holds on the next request.
    await app.ok(org.admin.key, `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`, { t: teamId, u: member.userId });
    expect(codes(await app.gql(member.key, `query($t: ID!) { viewerPermissions(on: $t) }`, { t: teamId }))).toEqual(["NOT_FOUND"]);
  });

  it("fails closed when SpiceDB stops answering, and recovers by itself", async () => {
    const org = await app.seed.org("Outage");
    spicedb.setAvailable(false);
    try {
      expect(codes(await app.gql(org.admin.key, `query($o: ID!) { organization(id: $o) { name } }`, { o: org.orgId }))).toEqual(["AUTHZ_UNAVAILABLE"]);
      expect((await app.fetch("/readyz")).status).toBe(503);
    } finally {
      spicedb.setAvailable(true);
    }
    expect((await app.ok(org.admin.key, `query($o: ID!) { organization(id: $o) { name } }`, { o: org.orgId })).organization.name).toBe("Outage");
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
    const ownSpicedb = await startGrpcSpiceDb();
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

  it("several API processes: a revocation acknowledged by one is enforced by another on its next request", async () => {
    // A second API instance on the same Postgres and SpiceDB, with its own client and its
    // own knowledge of tokens, as a second process would have.
    const client = connectRemoteSpiceDb({ endpoint: spicedb.endpoint, token: spicedb.token, tls: false });
    const consistency = new ConsistencyTracker(app.orgraph.deps.db);
    const sync = new RelationshipSync(app.orgraph.deps.db, client, consistency, app.orgraph.deps.logger);
    const other = createApp({ ...app.orgraph.deps, authzClient: client, consistency, sync });
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
});
