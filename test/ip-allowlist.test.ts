import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorizeFrom, gqlFrom, listenEverywhere, requestFrom } from "./helpers/http-from.js";

/**
 * IP allowlists (issue 14 §1), over real HTTP from distinct local source addresses (all of
 * 127.0.0.0/8 is local on Linux, and ::1): an org list, a team list narrowing it, IPv6, input
 * rules, the lock-out guard, keys refused up front (GraphQL and /v1/authorize: 403
 * IP_NOT_ALLOWED), users losing sight of the refusing scope (IP_NOT_ALLOWED only where they
 * would see the object), TRUST_PROXY, who may set a list, audit, and CONDITIONAL = deny.
 */
const ADMIN_AT = "127.0.0.2";
const OUTSIDE = "127.0.0.3";
const PROXY = "127.0.0.5";
const SET = `mutation($s: ID!, $c: [String!]!) { setIpAllowlist(scopeId: $s, cidrs: $c) }`;
const ORG = `query($o: ID!) { organization(id: $o) { id name } }`;
const TEAM = `query($t: ID!) { team(id: $t) { id name } }`;
const GHOST_TEAM = `team_${"0".repeat(28)}`;

let app: TestApp;
let server: Server;
let port: number;
let org: SeededOrg;
let stranger: SeededOrg;
let teamId: string;
let people: Record<"teamAdmin" | "teamMember" | "billing" | "plain" | "custom", SeededMember>;
let keys: Record<"full" | "inference" | "metrics" | "serviceAccount", string>;

const gql = (from: string, key: string | undefined, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  gqlFrom(port, from, key, query, variables, headers);
const codeOf = (r: { json: any }) => r.json.errors?.[0]?.extensions?.code;
const setList = async (scopeId: string, cidrs: string[], key = org.admin.key, from = ADMIN_AT) => {
  const r = await gql(from, key, SET, { s: scopeId, c: cidrs });
  expect(r.json.errors).toBeUndefined();
  return r.json.data.setIpAllowlist as string[];
};
const clearAll = async () => {
  await setList(teamId, []);
  await setList(org.orgId, []);
};
const invoke = { action: "model:invoke", model: "llama", environment: "staging" };

beforeAll(async () => {
  app = await startTestApp({ env: { TRUST_PROXY: `${PROXY}/32`, SECURITY_LOG_MAX_PER_SOURCE: "5", RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
  ({ server, port } = await listenEverywhere(app));
  org = await app.seed.org("Fort");
  stranger = await app.seed.org("Elsewhere");
  teamId = await app.seed.team(org, "Vault");
  const a = org.admin.key;
  await app.ok(a, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: teamId });
  await app.ok(a, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: teamId });
  const role = (await app.ok(a, `mutation($o: ID!) { createRole(organizationId: $o, name: "Managers", permissions: ["team:view", "team:manage_members"]) { id } }`, { o: org.orgId })).createRole.id;
  people = {
    teamAdmin: await app.seed.member(org, "MEMBER", [{ teamId, role: "ADMIN" }], "team-admin"),
    teamMember: await app.seed.member(org, "MEMBER", [{ teamId, role: "MEMBER" }], "team-member"),
    billing: await app.seed.member(org, "BILLING_ADMIN", [], "billing"),
    plain: await app.seed.member(org, "MEMBER", [], "plain"),
    custom: await app.seed.member(org, "MEMBER", [], "custom"),
  };
  await app.ok(a, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: teamId, p: people.custom.userId });
  const key = async (type: string) =>
    (await app.ok(a, `mutation($t: ID!, $y: ApiKeyType!) { createApiKey(input: { name: "k", teamId: $t, type: $y }) { secret } }`, { t: teamId, y: type })).createApiKey.secret as string;
  const serviceAccount = (await app.ok(a, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "bot", role: OPERATOR) { secret } }`, { t: teamId })).createServiceAccount.secret;
  keys = { full: await key("FULL_ACCESS"), inference: await key("INFERENCE_ONLY"), metrics: await key("METRICS_ONLY"), serviceAccount };
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await app?.close();
});

describe("setIpAllowlist: the list", () => {
  it("is stored canonical and deduplicated, IPv4 and IPv6, a bare address as /32 or /128, and read back by org ADMINs", async () => {
    const stored = await setList(org.orgId, ["127.0.0.0/24", " 127.0.0.2 ", "10.1.2.3/8", "127.0.0.2/32", "2001:DB8:0::1/32", "::1", "10.0.0.0/8"]);
    expect(stored).toEqual(["127.0.0.0/24", "127.0.0.2/32", "10.0.0.0/8", "2001:db8::/32", "::1/128"]);
    expect((await gql(ADMIN_AT, org.admin.key, `query($o: ID!) { organization(id: $o) { ipAllowlist } }`, { o: org.orgId })).json.data.organization.ipAllowlist).toEqual(stored);
    expect(await setList(org.orgId, [])).toEqual([]);
    expect((await gql(OUTSIDE, org.admin.key, `query($o: ID!) { organization(id: $o) { ipAllowlist } }`, { o: org.orgId })).json.data.organization.ipAllowlist).toEqual([]);
  });

  it("refuses an invalid entry naming it, and more than 100 entries; 100 are accepted", async () => {
    for (const bad of ["10.0.0.0/33", "10.1", "example.com", "10.0.0.1/8/8", "::1/129", "010.0.0.1"]) {
      const r = await gql(ADMIN_AT, org.admin.key, SET, { s: org.orgId, c: ["127.0.0.0/8", bad] });
      expect(codeOf(r)).toBe("BAD_USER_INPUT");
      expect(r.json.errors[0].message).toContain(`"cidrs[1]"`);
      expect(r.json.errors[0].message).toContain(bad);
    }
    const hundred = ["127.0.0.0/8", ...Array.from({ length: 99 }, (_, i) => `10.${i}.0.0/16`)];
    const tooMany = await gql(ADMIN_AT, org.admin.key, SET, { s: org.orgId, c: [...hundred, "192.168.0.0/16"] });
    expect(codeOf(tooMany)).toBe("BAD_USER_INPUT");
    expect(tooMany.json.errors[0].message).toMatch(/at most 100/);
    expect(await setList(org.orgId, hundred)).toHaveLength(100);
    await setList(org.orgId, []);
  });

  it("refuses a list that would lock the caller out, saying so", async () => {
    const r = await gql(ADMIN_AT, org.admin.key, SET, { s: org.orgId, c: ["127.0.0.3/32", "::1/128"] });
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
    expect(r.json.errors[0].message).toMatch(/lock you out/);
    expect(r.json.errors[0].message).toContain(ADMIN_AT);
    // Without a known address (yoga.fetch, no socket) nothing can be checked: refused too.
    const unknown = await app.gql(org.admin.key, SET, { s: org.orgId, c: ["127.0.0.0/8"] });
    expect(unknown.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});

describe("enforcement for users", () => {
  it("an org list hides the organization and its teams from outside addresses (IP_NOT_ALLOWED to members), IPv6 included; an empty list clears it", async () => {
    await setList(org.orgId, [`${ADMIN_AT}/32`, "::1/128"]);
    const member = people.teamMember.key;
    expect((await gql(ADMIN_AT, member, ORG, { o: org.orgId })).json.data.organization.id).toBe(org.orgId);
    expect((await gql("::1", member, ORG, { o: org.orgId })).json.data.organization.id).toBe(org.orgId);
    const outside = await gql(OUTSIDE, member, ORG, { o: org.orgId });
    expect(codeOf(outside)).toBe("IP_NOT_ALLOWED");
    expect(codeOf(await gql(OUTSIDE, member, TEAM, { t: teamId }))).toBe("IP_NOT_ALLOWED");
    // Lists drop what the address may not reach.
    const listed = (await gql(OUTSIDE, member, `{ viewer { organizations { id } teams { id } } }`)).json.data.viewer;
    expect(listed).toEqual({ organizations: [], teams: [] });
    // No oracle: someone who could never see it gets NOT_FOUND, exactly as for a nonexistent id.
    const strangerAsks = await gql(OUTSIDE, stranger.admin.key, TEAM, { t: teamId });
    const ghost = await gql(OUTSIDE, stranger.admin.key, TEAM, { t: GHOST_TEAM });
    expect(codeOf(strangerAsks)).toBe("NOT_FOUND");
    expect(strangerAsks.json.errors[0].message).toBe(ghost.json.errors[0].message);
    // A person still sees themselves.
    expect((await gql(OUTSIDE, member, `{ viewer { user { id } } }`)).json.data.viewer.user.id).toBe(people.teamMember.userId);
    await setList(org.orgId, []);
    expect((await gql(OUTSIDE, member, ORG, { o: org.orgId })).json.data.organization.id).toBe(org.orgId);
  });

  it("a team list narrows the org list: both must admit the address on the team's objects", async () => {
    await setList(org.orgId, ["127.0.0.0/24", "::1/128"]);
    await setList(teamId, [`${ADMIN_AT}/32`], people.teamAdmin.key);
    const member = people.teamMember.key;
    expect((await gql(ADMIN_AT, member, TEAM, { t: teamId })).json.data.team.id).toBe(teamId);
    expect((await gql(OUTSIDE, member, ORG, { o: org.orgId })).json.data.organization.id).toBe(org.orgId);
    expect(codeOf(await gql(OUTSIDE, member, TEAM, { t: teamId }))).toBe("IP_NOT_ALLOWED");
    expect(codeOf(await gql("::1", member, TEAM, { t: teamId }))).toBe("IP_NOT_ALLOWED");
    // The org ADMIN too: the team's list applies to everyone who enters the team.
    expect(codeOf(await gql(OUTSIDE, org.admin.key, TEAM, { t: teamId }))).toBe("IP_NOT_ALLOWED");
    expect((await gql(ADMIN_AT, org.admin.key, `query($t: ID!) { team(id: $t) { ipAllowlist } }`, { t: teamId })).json.data.team.ipAllowlist).toEqual([`${ADMIN_AT}/32`]);
    // Outside the org list, the team list cannot widen it.
    await setList(teamId, [`${ADMIN_AT}/32`, "127.0.1.0/24"]);
    expect(codeOf(await gql("127.0.1.7", member, TEAM, { t: teamId }))).toBe("IP_NOT_ALLOWED");
    await clearAll();
  });

  it("/v1/authorize with a user's key: 403 IP_NOT_ALLOWED from outside; a stranger is denied without that code", async () => {
    await setList(teamId, [`${ADMIN_AT}/32`]);
    const body = { ...invoke, team: teamId };
    expect((await authorizeFrom(port, ADMIN_AT, people.teamMember.key, body)).status).toBe(200);
    const refused = await authorizeFrom(port, OUTSIDE, people.teamMember.key, body);
    expect(refused).toMatchObject({ status: 403, json: { allowed: false, code: "IP_NOT_ALLOWED" } });
    const strangerAsks = await authorizeFrom(port, OUTSIDE, stranger.admin.key, body);
    expect(strangerAsks.status).toBe(403);
    expect(strangerAsks.json.code).toBeUndefined();
    await clearAll();
  });
});

describe("enforcement for keys bound to a team: refused up front", () => {
  it("each key type: GraphQL answers HTTP 403 IP_NOT_ALLOWED and /v1/authorize 403 IP_NOT_ALLOWED from outside; allowed inside", async () => {
    await setList(teamId, [`${ADMIN_AT}/32`]);
    for (const [type, key] of Object.entries(keys)) {
      const graphql = await gql(OUTSIDE, key, `{ viewer { principal { id } } }`);
      expect({ type, status: graphql.status, code: codeOf(graphql), data: graphql.json.data ?? null }).toEqual({ type, status: 403, code: "IP_NOT_ALLOWED", data: null });
      const gateway = await authorizeFrom(port, OUTSIDE, key, invoke);
      expect({ type, ...gateway }).toMatchObject({ type, status: 403, json: { allowed: false, code: "IP_NOT_ALLOWED" } });
      expect((await gql(ADMIN_AT, key, `{ viewer { principal { id } } }`)).status).toBe(200);
    }
    expect((await authorizeFrom(port, ADMIN_AT, keys.inference, invoke)).status).toBe(200);
    // The org list refuses them too, whatever the team's list says.
    await setList(teamId, []);
    await setList(org.orgId, [`${ADMIN_AT}/32`]);
    expect((await authorizeFrom(port, OUTSIDE, keys.full, invoke)).json.code).toBe("IP_NOT_ALLOWED");
    await clearAll();
  });

  it("/v1/authorize decides on the body's clientIp only from a gateway named in TRUST_PROXY; anyone else who names one gets 400", async () => {
    await setList(teamId, [`${ADMIN_AT}/32`]);
    // The gateway (a trusted proxy) names its end client's address.
    expect((await authorizeFrom(port, PROXY, keys.inference, { ...invoke, clientIp: ADMIN_AT })).status).toBe(200);
    expect((await authorizeFrom(port, PROXY, keys.inference, { ...invoke, clientIp: OUTSIDE })).json.code).toBe("IP_NOT_ALLOWED");
    expect((await authorizeFrom(port, PROXY, keys.inference, { ...invoke, clientIp: `::ffff:${ADMIN_AT}` })).status).toBe(200);
    // A key holder outside the list cannot claim an inside address, nor can anyone not named in TRUST_PROXY.
    for (const from of [OUTSIDE, ADMIN_AT]) {
      const claimed = await authorizeFrom(port, from, keys.inference, { ...invoke, clientIp: ADMIN_AT });
      expect(claimed.status).toBe(400);
      expect(claimed.json.error).toMatch(/TRUST_PROXY/);
    }
    for (const clientIp of ["10.1", "not an ip", 42, ""]) {
      const bad = await authorizeFrom(port, PROXY, keys.inference, { ...invoke, clientIp });
      expect(bad.status).toBe(400);
      expect(bad.json.error).toMatch(/"clientIp"/);
    }
    await clearAll();
  });

  it("explainPermission names the allowlist: admitted from inside; from outside the object answers IP_NOT_ALLOWED", async () => {
    await setList(teamId, [`${ADMIN_AT}/32`]);
    const explain = (from: string) => gql(from, people.teamMember.key, `query($t: ID!) { explainPermission(on: $t, permission: "team:view") { allowed path } }`, { t: teamId });
    const inside = (await explain(ADMIN_AT)).json.data.explainPermission;
    expect(inside.allowed).toBe(true);
    expect(inside.path).toContain("IP allowlist admits this address");
    expect(codeOf(await explain(OUTSIDE))).toBe("IP_NOT_ALLOWED");
    await clearAll();
    expect((await explain(OUTSIDE)).json.data.explainPermission.path).not.toContain("IP allowlist admits this address");
  });

  it("AuthZEN decides with the same IP stage: the connection's address, or context.clientIp from a trusted gateway only", async () => {
    const keyId = (await gql(ADMIN_AT, keys.inference, `{ viewer { principal { id } } }`, {})).json.data.viewer.principal.id as string;
    await setList(teamId, [`${ADMIN_AT}/32`]);
    const evaluation = (context?: Record<string, unknown>) => ({
      subject: { type: "api_key", id: keyId },
      action: { name: "model:invoke" },
      resource: { type: "model", id: invoke.model, properties: { environment: invoke.environment } },
      ...(context ? { context } : {}),
    });
    const ask = (from: string, body: unknown) => requestFrom(port, from, "/access/v1/evaluation", body, { authorization: `Bearer ${keys.inference}` });
    expect((await ask(ADMIN_AT, evaluation())).json).toMatchObject({ decision: true });
    expect((await ask(OUTSIDE, evaluation())).json).toMatchObject({ decision: false, context: { code: "IP_NOT_ALLOWED" } });
    expect((await ask(PROXY, evaluation({ clientIp: ADMIN_AT }))).json).toMatchObject({ decision: true });
    expect((await ask(PROXY, evaluation({ clientIp: OUTSIDE }))).json).toMatchObject({ decision: false, context: { code: "IP_NOT_ALLOWED" } });
    const claimed = await ask(OUTSIDE, evaluation({ clientIp: ADMIN_AT }));
    expect(claimed.status).toBe(400);
    expect(claimed.text).toMatch(/TRUST_PROXY/);
    await clearAll();
  });

  it("TRUST_PROXY: from a trusted proxy the right-most X-Forwarded-For hop that is no proxy is the client; from anyone else the header is ignored", async () => {
    await setList(teamId, [`${ADMIN_AT}/32`]);
    const viaProxy = (forwarded: string, from = PROXY) => gql(from, keys.full, `{ viewer { principal { id } } }`, {}, { "x-forwarded-for": forwarded });
    expect((await viaProxy(`${OUTSIDE}, ${ADMIN_AT}`)).status).toBe(200);
    expect((await viaProxy(`${ADMIN_AT}, ${OUTSIDE}`)).status).toBe(403);
    expect((await viaProxy(`${ADMIN_AT}, ${PROXY}`)).status).toBe(200);
    expect((await viaProxy(ADMIN_AT, OUTSIDE)).status).toBe(403);
    expect((await authorizeFrom(port, PROXY, keys.inference, invoke, { "x-forwarded-for": ADMIN_AT })).status).toBe(200);
    expect((await authorizeFrom(port, "127.0.0.4", keys.inference, invoke, { "x-forwarded-for": ADMIN_AT })).status).toBe(403);
    await clearAll();
  });

  it("through a trusted balancer, a client cannot claim an address: neither with clientIp nor with a hop the balancer wrote with a port", async () => {
    await setList(teamId, [`${ADMIN_AT}/32`]);
    // The balancer (PROXY) appends the client's own address; the client wrote whatever it likes to its left.
    const claimed = await authorizeFrom(port, PROXY, keys.inference, { ...invoke, clientIp: ADMIN_AT }, { "x-forwarded-for": OUTSIDE });
    expect(claimed.status).toBe(400);
    expect(claimed.json.error).toMatch(/TRUST_PROXY/);
    // Some balancers write ip:port or [v6]:port: it is read, never skipped in favour of the entry to its left.
    expect((await authorizeFrom(port, PROXY, keys.inference, invoke, { "x-forwarded-for": `${ADMIN_AT}, ${OUTSIDE}:51234` })).json.code).toBe("IP_NOT_ALLOWED");
    expect((await authorizeFrom(port, PROXY, keys.inference, invoke, { "x-forwarded-for": `${OUTSIDE}, ${ADMIN_AT}:51234` })).status).toBe(200);
    expect((await authorizeFrom(port, PROXY, keys.inference, invoke, { "x-forwarded-for": `${ADMIN_AT}, [2001:db8::7]:443` })).json.code).toBe("IP_NOT_ALLOWED");
    // A hop that is no address ends the walk with no address at all: denied.
    expect((await authorizeFrom(port, PROXY, keys.inference, invoke, { "x-forwarded-for": `${ADMIN_AT}, unknown` })).status).toBe(403);
    expect((await gql(PROXY, keys.full, `{ viewer { principal { id } } }`, {}, { "x-forwarded-for": `${ADMIN_AT}, ${OUTSIDE}:1` })).status).toBe(403);
    await clearAll();
  });

  it("an org ADMIN lifts a team list a team ADMIN set, from an address the organization admits (org ADMINs are ADMIN of every team)", async () => {
    const TEAM_ADMIN_AT = "127.0.0.4";
    await setList(teamId, [`${TEAM_ADMIN_AT}/32`], people.teamAdmin.key, TEAM_ADMIN_AT);
    expect(codeOf(await gql(ADMIN_AT, org.admin.key, `query($t: ID!) { team(id: $t) { id } }`, { t: teamId }))).toBe("IP_NOT_ALLOWED");
    await setList(teamId, [], org.admin.key, ADMIN_AT);
    expect(codeOf(await gql(ADMIN_AT, org.admin.key, `query($t: ID!) { team(id: $t) { id } }`, { t: teamId }))).toBeUndefined();
    // The team ADMIN still cannot set the org's list, and a plain member cannot set the team's.
    expect(codeOf(await gql(TEAM_ADMIN_AT, people.teamAdmin.key, SET, { s: org.orgId, c: [] }))).toBe("FORBIDDEN");
    expect(codeOf(await gql(ADMIN_AT, people.teamMember.key, SET, { s: teamId, c: [] }))).toBe("FORBIDDEN");
    await clearAll();
  });

  it("TRUST_PROXY and its older name TRUSTED_PROXIES: either works, both set differently is refused", () => {
    expect(loadConfig({ TRUST_PROXY: "10.0.0.1" }).trustedProxies).toEqual(["10.0.0.1"]);
    expect(loadConfig({ TRUSTED_PROXIES: "10.0.0.1" }).trustedProxies).toEqual(["10.0.0.1"]);
    expect(loadConfig({ TRUST_PROXY: "10.0.0.1", TRUSTED_PROXIES: "10.0.0.1" }).trustedProxies).toEqual(["10.0.0.1"]);
    expect(() => loadConfig({ TRUST_PROXY: "10.0.0.1", TRUSTED_PROXIES: "10.0.0.2" })).toThrow(/TRUST_PROXY and TRUSTED_PROXIES/);
  });
});

describe("who may set and read a list", () => {
  it("team MEMBERs, custom roles with manage_members, BILLING_ADMINs, plain members and every key are FORBIDDEN; strangers NOT_FOUND as for a ghost", async () => {
    const attempts: [string, string, string][] = [
      ["team MEMBER on the team", people.teamMember.key, teamId],
      ["custom role with team:manage_members on the team", people.custom.key, teamId],
      ["team MEMBER on the org", people.teamMember.key, org.orgId],
      ["BILLING_ADMIN on the org", people.billing.key, org.orgId],
      ["plain member on the org", people.plain.key, org.orgId],
      ["team ADMIN on the org", people.teamAdmin.key, org.orgId],
      ...Object.entries(keys).flatMap(([type, key]): [string, string, string][] => [[`${type} key on its team`, key, teamId], [`${type} key on the org`, key, org.orgId]]),
    ];
    // INFERENCE_ONLY and METRICS_ONLY keys view neither their team nor (so) its organization: NOT_FOUND.
    const blind = new Set([keys.inference, keys.metrics]);
    for (const [who, key, scope] of attempts) {
      const r = await gql(ADMIN_AT, key, SET, { s: scope, c: [] });
      expect({ who, code: codeOf(r) }).toEqual({ who, code: blind.has(key) ? "NOT_FOUND" : "FORBIDDEN" });
    }
    const byStranger = await gql(ADMIN_AT, stranger.admin.key, SET, { s: teamId, c: [] });
    const onGhost = await gql(ADMIN_AT, stranger.admin.key, SET, { s: GHOST_TEAM, c: [] });
    expect([codeOf(byStranger), byStranger.json.errors[0].message]).toEqual([codeOf(onGhost), onGhost.json.errors[0].message]);
    expect(codeOf(byStranger)).toBe("NOT_FOUND");
    // The team ADMIN sets the team's list.
    expect(await setList(teamId, [], people.teamAdmin.key)).toEqual([]);
    // Reading: FORBIDDEN on the field alone; the organization itself stays.
    const read = await gql(ADMIN_AT, people.billing.key, `query($o: ID!) { organization(id: $o) { id ipAllowlist } }`, { o: org.orgId });
    expect(read.json.data.organization).toEqual({ id: org.orgId, ipAllowlist: null });
    expect(codeOf(read)).toBe("FORBIDDEN");
  });
});

describe("audit and fail-closed", () => {
  it("setting a list is audited with its diff; refusals go to the bounded security log", async () => {
    await setList(teamId, [`${ADMIN_AT}/32`]);
    const { db } = app.orgraph.deps;
    const set = await db.selectFrom("audit_events").select(["diff", "team_id", "result"]).where("action", "=", "ip_allowlist.set").where("target_id", "=", teamId).orderBy("id", "desc").executeTakeFirstOrThrow();
    expect(set).toMatchObject({ team_id: teamId, result: "SUCCESS", diff: { cidrs: { before: [], after: [`${ADMIN_AT}/32`] } } });
    const denied = await db.selectFrom("audit_events").select("result").where("action", "=", "ip_allowlist.set").where("actor_id", "=", people.teamMember.userId).execute();
    expect(denied.map((e) => e.result)).toContain("DENIED");
    // A flood of refused requests keeps the newest SECURITY_LOG_MAX_PER_SOURCE (5) rows and counts the rest.
    for (let i = 0; i < 8; i++) await gql(OUTSIDE, keys.full, `{ viewer { principal { id } } }`);
    await authorizeFrom(port, OUTSIDE, people.teamMember.key, { ...invoke, team: teamId });
    const rows = await db.selectFrom("security_events").selectAll().where("action", "=", "ip_allowlist.refused").execute();
    const perSource = new Map<string, number>();
    for (const r of rows) perSource.set(r.source, (perSource.get(r.source) ?? 0) + 1);
    expect(Math.max(...perSource.values())).toBe(5);
    expect(rows.filter((r) => r.auth_method === "api_key" && r.team_id === teamId && r.client_address === OUTSIDE).length).toBeGreaterThan(0);
    expect(rows.some((r) => r.actor_id === people.teamMember.userId && r.result === "DENIED")).toBe(true);
    const drops = await db.selectFrom("security_log_drops").selectAll().execute();
    expect(drops.some((d) => d.source.startsWith("ip_refused:") && Number(d.dropped) >= 3)).toBe(true);
    await clearAll();
  });

  it("a check without the caller's address is CONDITIONAL on a caveated list, and CONDITIONAL is a denial", async () => {
    await setList(org.orgId, ["127.0.0.0/8"]);
    // yoga.fetch: no socket, so no address — no context on the checks.
    const noAddress = await app.gql(people.teamMember.key, ORG, { o: org.orgId });
    expect(noAddress.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await app.fetch("/v1/authorize", { method: "POST", headers: { authorization: `Bearer ${keys.inference}` }, body: JSON.stringify(invoke) })).status).toBe(403);
    const { authzClient, consistency } = app.orgraph.deps;
    const item = { resource: { type: "organization", id: org.orgId }, permission: "view", subject: { type: "user", id: people.plain.userId } };
    const at = await consistency.forRequest();
    expect(await authzClient.checkBulk([item, { ...item, context: { clientIp: "127.9.9.9" } }, { ...item, context: { clientIp: "10.0.0.1" } }], at.consistency)).toEqual([false, true, false]);
    await clearAll();
    expect((await app.gql(people.teamMember.key, ORG, { o: org.orgId })).data?.organization.id).toBe(org.orgId);
  });
});
