import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./helpers/database.js";
import { graphql, runScript, startServer, type ServerProcess } from "./helpers/process.js";

/**
 * As a newcomer would: `npm run bootstrap` on a fresh data folder, then `npm start`, spoken
 * to over HTTP; then a restart on the same data, where every permission must still hold
 * (the embedded SpiceDB is in memory and re-filled from Postgres).
 */
let database: TestDatabase;
let env: Record<string, string>;
let server: ServerProcess | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
  env = { ORGRAPH_DATA_DIR: database.dataDir, ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : { DATABASE_URL: "" }) };
});
afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

/** SIGTERM to `npm start`; the server shuts down gracefully and releases the data folder. */
async function stopGracefully(): Promise<void> {
  await server!.stop();
  const lock = join(database.dataDir, "orgraph.lock");
  for (let i = 0; i < 100 && existsSync(lock); i++) await new Promise((r) => setTimeout(r, 100));
  expect(existsSync(lock)).toBe(false);
  expect(server!.output()).toContain("shutting down");
}

describe("bootstrap, start, restart", () => {
  let bootstrap: { organizationId: string; userId: string; apiKey: string };
  let memberKey: string;
  let teamId: string;

  it("bootstrap prints one JSON line with the organization, the user and a key", async () => {
    const result = await runScript("bootstrap", ["--org", "Acme", "--email", "founder@acme.test"], env);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    bootstrap = JSON.parse(lines[0]!);
    expect(bootstrap.organizationId).toMatch(/^org_/);
    expect(bootstrap.userId).toMatch(/^usr_/);
    expect(bootstrap.apiKey).toMatch(/^ogp_/);
  });

  it("bootstrap refuses bad arguments with a clear message", async () => {
    const missing = await runScript("bootstrap", ["--org", "Acme"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("usage: npm run bootstrap -- --org NAME --email EMAIL");
    const badEmail = await runScript("bootstrap", ["--org", "Acme", "--email", "nope"], env);
    expect(badEmail.code).toBe(1);
    expect(badEmail.stderr).toContain("not a valid email");
  });

  it("npm start serves the bootstrap key: viewer, health and readiness", async () => {
    server = await startServer(env);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await (await fetch(`${server.url}/readyz`)).json();
    expect(ready).toEqual({ status: "ready", checks: { postgres: true, spicedb: true } });
    const result = await graphql(server.url, bootstrap.apiKey, `{ viewer { user { email } organizations { name } } }`);
    expect(result).toEqual({ data: { viewer: { user: { email: "founder@acme.test" }, organizations: [{ name: "Acme" }] } } });
  });

  it("GraphiQL answers a browser's GET /graphql", async () => {
    const response = await fetch(`${server!.url}/graphql`, { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("GraphiQL");
  });

  // The two modes protect their data differently; each runs the test that applies to it.
  it.skipIf(Boolean(process.env.DATABASE_URL))(
    "with the embedded default, bootstrap refuses while the server holds the data folder (PGlite run only: a Postgres server has no data folder)",
    async () => {
      const result = await runScript("bootstrap", ["--org", "Other", "--email", "x@acme.test"], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/data folder .* is in use by the Orgraph server \(pid \d+\)/);
    },
  );

  it.runIf(Boolean(process.env.DATABASE_URL))(
    "with a Postgres server, bootstrap runs beside the server, whose background flush brings the new organization into its SpiceDB (Postgres run only)",
    async () => {
      const result = await runScript("bootstrap", ["--org", "Beside", "--email", "beside@acme.test"], env);
      expect(result.code).toBe(0);
      const beside = JSON.parse(result.stdout.trim()) as { organizationId: string; apiKey: string };
      const query = `{ viewer { organizations { id name } } }`;
      let answer = await graphql(server!.url, beside.apiKey, query);
      for (let i = 0; i < 50 && answer.data?.viewer.organizations.length !== 1; i++) {
        await new Promise((r) => setTimeout(r, 100));
        answer = await graphql(server!.url, beside.apiKey, query);
      }
      expect(answer).toEqual({ data: { viewer: { organizations: [{ id: beside.organizationId, name: "Beside" }] } } });
    },
  );

  it("grants made through the API hold after a restart", async () => {
    const url = server!.url;
    teamId = (await graphql(url, bootstrap.apiKey, `mutation($org: ID!) { createTeam(organizationId: $org, name: "Research") { id } }`, { org: bootstrap.organizationId })).data.createTeam.id;
    const invited = await graphql(url, bootstrap.apiKey, `mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }`, {
      input: { organizationId: bootstrap.organizationId, email: "member@acme.test", role: "MEMBER", teams: [{ teamId, role: "OPERATOR" }] },
    });
    memberKey = (await graphql(url, undefined, `mutation($t: String!) { acceptInvitation(token: $t) { secret } }`, { t: invited.data.inviteMember.token })).data
      .acceptInvitation.secret;
    const before = await graphql(url, memberKey, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: teamId });
    expect(before.data.viewerPermissions).toContain("models:invoke");

    await stopGracefully();
    server = await startServer(env);

    const after = await graphql(server.url, memberKey, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: teamId });
    expect(after.data.viewerPermissions).toEqual(before.data.viewerPermissions);
    const teams = await graphql(server.url, memberKey, `{ viewer { teams { id } } }`);
    expect(teams.data.viewer.teams).toEqual([{ id: teamId }]);
    const admin = await graphql(server.url, bootstrap.apiKey, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: bootstrap.organizationId });
    expect(admin.data.viewerPermissions).toContain("org:manage");
  });

  it("a revocation made before the restart stays revoked after it", async () => {
    const members = await graphql(server!.url, bootstrap.apiKey, `query($id: ID!) { team(id: $id) { members { edges { node { principal { id } } } } } }`, { id: teamId });
    const memberId = members.data.team.members.edges[0].node.principal.id;
    await graphql(server!.url, bootstrap.apiKey, `mutation($t: ID!, $u: ID!) { removeTeamMember(teamId: $t, principalId: $u) }`, { t: teamId, u: memberId });
    await stopGracefully();
    server = await startServer(env);
    const result = await graphql(server.url, memberKey, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: teamId });
    expect(result.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("SIGTERM lets in-flight requests finish before the server exits", async () => {
    const url = server!.url;
    const inFlight = Array.from({ length: 20 }, () =>
      fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${bootstrap.apiKey}` },
        body: JSON.stringify({ query: `{ viewer { teams { id } organizations { name } } }` }),
      }).then((r) => r.status),
    );
    await new Promise((r) => setTimeout(r, 20)); // let them reach the server
    const stopped = stopGracefully();
    await new Promise((r) => setTimeout(r, 50));
    // Draining: the load balancer is told to stop sending.
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    const statuses = await Promise.all(inFlight);
    await stopped;
    expect(statuses).toEqual(Array(20).fill(200));
    server = undefined;
  });
});
