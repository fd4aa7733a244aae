import { exportSPKI, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postFrom } from "./helpers/post-from.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Red team of issue 11's fixes: each `it` is one attack found by reading the first round of
 * fixes, written while it still succeeded (each failed then), and now refused.
 */
let app: TestApp;
let victimOrg: SeededOrg;
let attackerOrg: SeededOrg;
const issuer = "https://idp.example.test/";
const audience = "orgraph";

const invite = `mutation($o: ID!, $e: String!, $r: OrgRole!, $teams: [TeamRoleInput!]) {
  inviteMember(input: { organizationId: $o, email: $e, role: $r, teams: $teams }) { token invitation { id status } } }`;

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  app = await startTestApp({
    env: {
      JWT_ISSUER: issuer,
      JWT_AUDIENCE: audience,
      JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey),
      RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000",
    },
  });
  victimOrg = await app.seed.org("Victim Corp");
  attackerOrg = await app.seed.org("Attacker Inc");
});
afterAll(() => app?.close());


describe("security log bounds", () => {
  it("signed-out garbage from many client addresses cannot grow the security log's drop counters beyond SECURITY_LOG_MAX_ROWS", async () => {
    const bounded = await startTestApp({ env: { SECURITY_LOG_MAX_ROWS: "5", SECURITY_LOG_MAX_PER_SOURCE: "2" } });
    try {
      const url = (await bounded.http("/healthz")).url.replace("/healthz", "/graphql");
      const sources = 60;
      for (let i = 0; i < sources; i++) {
        const response = await postFrom(`127.0.${10 + Math.floor(i / 200)}.${(i % 200) + 1}`, url, { query: `mutation { acceptInvitation(token: "x") { secret } }` });
        expect(response.json.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      }
      const db = bounded.orgraph.deps.db;
      const events = await db.selectFrom("security_events").select(db.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      expect(Number(events.n)).toBeLessThanOrEqual(5);
      // The counters of what was dropped are part of the log: they must be bounded too (a
      // stranger with a /48 of IPv6 has 65,536 sources to spend).
      const drops = await db.selectFrom("security_log_drops").select(db.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      expect(Number(drops.n)).toBeLessThanOrEqual(5);
    } finally {
      await bounded.close();
    }
  });
});

describe("invitations", () => {
  it("a pending invitation cannot be pushed off Organization.invitations by 200 newer revoked ones: co-admins still see it to revoke it", async () => {
    const admins = attackerOrg;
    const hidden = (await app.ok(admins.admin.key, invite, { o: admins.orgId, e: "backdoor@evil.test", r: "ADMIN", teams: [] })).inviteMember;
    for (let i = 0; i < 200; i++) {
      const junk = (await app.ok(admins.admin.key, invite, { o: admins.orgId, e: `junk-${i}@evil.test`, r: "MEMBER", teams: [] })).inviteMember;
      await app.ok(admins.admin.key, `mutation($i: ID!) { revokeInvitation(id: $i) { id } }`, { i: junk.invitation.id });
    }
    // A co-admin reviewing pending invitations (the only way to find one to revoke).
    const coAdmin = await app.seed.member(admins, "ADMIN", [], "coadmin");
    const listed = (await app.ok(coAdmin.key, `query($o: ID!) { organization(id: $o) { invitations { id status } } }`, { o: admins.orgId })).organization.invitations as { id: string; status: string }[];
    expect(listed.map((i) => i.id)).toContain(hidden.invitation.id);
  });
});

describe("chain secret names", () => {
  it("a team VIEWER cannot read the team's secret names from the audit log's record of createChain and updateChain", async () => {
    const teamId = await app.seed.team(victimOrg, "Agents");
    for (const name of ["OPENAI_PROD_KEY", "BILLING_DB_URL"]) {
      await app.ok(victimOrg.admin.key, `mutation($t: ID!, $n: String!) { setSecret(teamId: $t, name: $n, value: "s3cret") { name } }`, { t: teamId, n: name });
    }
    const definition = { steps: [{ call: "llm", auth: { $secret: "OPENAI_PROD_KEY" } }] };
    const chainId = (await app.ok(victimOrg.admin.key, `mutation($t: ID!, $d: JSON) { createChain(teamId: $t, name: "triage", definition: $d) { id } }`, { t: teamId, d: definition })).createChain.id;
    await app.ok(victimOrg.admin.key, `mutation($c: ID!, $d: JSON!) { updateChain(id: $c, definition: $d) { id } }`, { c: chainId, d: { steps: [{ call: "db", dsn: { $secret: "BILLING_DB_URL" } }] } });
    const viewer = await app.seed.member(victimOrg, "MEMBER", [{ teamId, role: "VIEWER" }], "viewer");
    // Through the chain itself the names are hidden from a VIEWER (hole 8's fix)...
    const shown = (await app.ok(viewer.key, `query($c: ID!) { node(id: $c) { ... on Chain { definition } } }`, { c: chainId })).node.definition;
    expect(JSON.stringify(shown)).not.toContain("BILLING_DB_URL");
    // ...and must be through the team's audit log too, which every team role reads.
    const events = (await app.ok(viewer.key, `query($t: ID!) { team(id: $t) { auditLog(first: 50) { edges { node { action diff } } } } }`, { t: teamId })).team.auditLog.edges;
    expect(events.map((e: any) => e.node.action)).toEqual(expect.arrayContaining(["chain.create", "chain.update"]));
    const recorded = JSON.stringify(events.map((e: any) => e.node.diff));
    expect(recorded).not.toContain("OPENAI_PROD_KEY");
    expect(recorded).not.toContain("BILLING_DB_URL");
  });

  it("a team VIEWER cannot read the team's secret names from the audit log's record of setSecret", async () => {
    const teamId = await app.seed.team(victimOrg, "Vault");
    await app.ok(victimOrg.admin.key, `mutation($t: ID!) { setSecret(teamId: $t, name: "AWS_ROOT_KEY", value: "s3cret") { name } }`, { t: teamId });
    const viewer = await app.seed.member(victimOrg, "MEMBER", [{ teamId, role: "VIEWER" }], "viewer");
    // PRODUCT.md §4: seeing secret names is ADMIN and MEMBER only.
    expect(codes(await app.gql(viewer.key, `query($t: ID!) { team(id: $t) { secrets { name } } }`, { t: teamId }))).not.toEqual([]);
    const events = (await app.ok(viewer.key, `query($t: ID!) { team(id: $t) { auditLog(first: 50) { edges { node { action diff } } } } }`, { t: teamId })).team.auditLog.edges;
    expect(events.map((e: any) => e.node.action)).toContain("secret.set");
    expect(JSON.stringify(events.map((e: any) => e.node.diff))).not.toContain("AWS_ROOT_KEY");
  });
});

describe("no escalation: removing someone needs what that someone holds", () => {
  it("a custom role holding team:manage_members cannot remove a VIEWER who also holds an all-powers custom role and an environment grant", async () => {
    const teamId = await app.seed.team(victimOrg, "Core");
    const prodId = (await app.ok(victimOrg.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod", restricted: true) { id } }`, { t: teamId })).createEnvironment.id;
    const createRole = `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id } }`;
    const assign = `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`;
    const allPowers = (await app.ok(victimOrg.admin.key, createRole, { o: victimOrg.orgId, n: "core-all", p: ["team:view", "resources:write", "resources:delete", "secrets:manage", "team:manage_keys"] })).createRole.id;
    const membersOnly = (await app.ok(victimOrg.admin.key, createRole, { o: victimOrg.orgId, n: "core-members", p: ["team:view", "team:manage_members"] })).createRole.id;

    const powerful = await app.seed.member(victimOrg, "MEMBER", [{ teamId, role: "VIEWER" }], "powerful");
    await app.ok(victimOrg.admin.key, assign, { r: allPowers, t: teamId, p: powerful.userId });
    await app.ok(victimOrg.admin.key, `mutation($e: ID!, $p: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $p) { id } }`, { e: prodId, p: powerful.userId });
    const remover = await app.seed.member(victimOrg, "MEMBER", [{ teamId, role: "VIEWER" }], "remover");
    await app.ok(victimOrg.admin.key, assign, { r: membersOnly, t: teamId, p: remover.userId });

    const held = async (key: string, id: string) => (await app.ok(key, `query($id: ID!) { viewerPermissions(on: $id) }`, { id })).viewerPermissions as string[];
    // The remover holds none of the powers it would take away.
    expect(await held(remover.key, teamId)).not.toContain("secrets:manage");
    const before = await held(powerful.key, teamId);
    expect(before).toContain("secrets:manage");
    const response = await app.gql(remover.key, `mutation($t: ID!, $p: ID!) { removeTeamMember(teamId: $t, principalId: $p) }`, { t: teamId, p: powerful.userId });
    expect(codes(response)).toEqual(["FORBIDDEN"]);
    expect(await held(powerful.key, teamId)).toEqual(before);
  });
});
