import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { startOrgraph } from "../src/orgraph.js";
import { codes, startTestApp, type TestApp } from "./helpers/app.js";
import { createTestDatabase } from "./helpers/database.js";
import { authorize } from "./helpers/gateway.js";
import { startGrpcSpiceDb, type GrpcSpiceDb } from "./helpers/grpc-spicedb.js";

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
});
