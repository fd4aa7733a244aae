import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postFrom } from "./helpers/post-from.js";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 11, hole 7: the audit log belongs to its organization. A stranger's attempts, and
 * everything signed out, go to a bounded security log; recorded arguments are capped; and
 * signed-out callers are rate limited per client address, not as one crowd.
 */
let app: TestApp;
let victim: SeededOrg;
let stranger: SeededOrg;
let victimTeam: string;

const MAX_PER_SOURCE = 100;

beforeAll(async () => {
  app = await startTestApp({
    env: { MAX_BODY_BYTES: "3000000", RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000", SECURITY_LOG_MAX_PER_SOURCE: String(MAX_PER_SOURCE) },
  });
  victim = await app.seed.org("Victim");
  stranger = await app.seed.org("Stranger");
  victimTeam = await app.seed.team(victim, "Crown jewels");
});
afterAll(() => app?.close());

const verify = async (org: SeededOrg) =>
  (await app.ok(org.admin.key, `query($o: ID!) { organization(id: $o) { verifyAuditLog { ok checked } } }`, { o: org.orgId })).organization.verifyAuditLog;
const acceptX = `mutation { acceptInvitation(token: "x") { secret } }`;

describe("a stranger cannot write into another organization's audit log", () => {
  it("a denied 1 MB renameTeam of the victim's team lands nowhere in the victim's chain, and capped in the security log", async () => {
    const db = app.orgraph.deps.db;
    const before = await verify(victim);
    const huge = "A".repeat(1024 * 1024);
    const denied = await app.gql(stranger.admin.key, `mutation($t: ID!, $n: String!) { renameTeam(id: $t, name: $n) { id } }`, { t: victimTeam, n: huge });
    expect(codes(denied).length).toBe(1);

    const inVictim = await db.selectFrom("audit_events").select("id").where("org_id", "=", victim.orgId).where("actor_id", "=", stranger.admin.userId).execute();
    expect(inVictim).toEqual([]);
    const after = await verify(victim);
    expect(after).toEqual({ ok: true, checked: before.checked });
    // Nowhere in any chain: no audit event carries the name.
    const anywhere = await sql<{ n: number }>`select count(*)::int as n from audit_events where length(diff::text) > 4096`.execute(db);
    expect(anywhere.rows[0]!.n).toBe(0);

    const recorded = await db.selectFrom("security_events").selectAll().where("actor_id", "=", stranger.admin.userId).where("action", "=", "team.rename").execute();
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ claimed_org_id: victim.orgId, source: `principal:USER:${stranger.admin.userId}` });
    const diff = JSON.stringify(recorded[0]!.diff);
    expect(diff.length).toBeLessThanOrEqual(4096 + 200);
    expect(diff).toContain("truncated");
  });

  it("a member's own attempts, allowed or denied, stay in its organization's chain", async () => {
    const member = await app.seed.member(victim, "MEMBER", [{ teamId: victimTeam, role: "VIEWER" }], "insider");
    expect(codes(await app.gql(member.key, `mutation($t: ID!) { renameTeam(id: $t, name: "mine") { id } }`, { t: victimTeam }))).toEqual(["FORBIDDEN"]);
    const db = app.orgraph.deps.db;
    const chained = await db.selectFrom("audit_events").select(["result", "org_id"]).where("actor_id", "=", member.userId).where("action", "=", "team.rename").execute();
    expect(chained).toEqual([{ result: "DENIED", org_id: victim.orgId }]);
    expect((await verify(victim)).ok).toBe(true);
  });
});

describe("the security log is bounded", () => {
  it("10,000 signed-out acceptInvitation(\"x\") calls add nothing to any chain and keep the security log at its bound", async () => {
    const db = app.orgraph.deps.db;
    const count = async (table: "audit_events" | "security_events") =>
      Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
    const eventsBefore = await count("audit_events");
    for (let i = 0; i < 10_000; i++) expect(codes(await app.gql(undefined, acceptX))).toEqual(["BAD_USER_INPUT"]);
    expect(await count("audit_events")).toBe(eventsBefore);
    const anonymous = await db.selectFrom("security_events").select("seq").where("source", "=", "addr:unknown").execute();
    expect(anonymous).toHaveLength(MAX_PER_SOURCE);
    const dropped = await db.selectFrom("security_log_drops").select("dropped").where("source", "=", "addr:unknown").executeTakeFirstOrThrow();
    expect(Number(dropped.dropped) + MAX_PER_SOURCE).toBe(10_000);
    expect((await verify(victim)).ok).toBe(true);
  }, 300_000); // ~8 ms a call on PGlite
});


describe("signed-out callers are rate limited per client address", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "3" } });
  });
  afterAll(() => limited?.close());

  it("two clients at different addresses have separate buckets, and X-Forwarded-For is not trusted", async () => {
    const health = await limited.http("/healthz");
    const url = health.url.replace("/healthz", "/graphql");
    const codeOf = (answer: { json: any }) => answer.json.errors?.[0]?.extensions?.code;
    for (let i = 0; i < 3; i++) expect(codeOf(await postFrom("127.0.0.2", url, { query: acceptX }))).toBe("BAD_USER_INPUT");
    const fourth = await postFrom("127.0.0.2", url, { query: acceptX });
    expect([fourth.status, codeOf(fourth)]).toEqual([429, "RATE_LIMITED"]);
    // The abuser pretending to be someone else through a header gets nowhere...
    const spoofed = await postFrom("127.0.0.2", url, { query: acceptX }, { "x-forwarded-for": "10.1.2.3" });
    expect(spoofed.status).toBe(429);
    // ...and a real invitee at another address is not locked out.
    expect(codeOf(await postFrom("127.0.0.3", url, { query: acceptX }))).toBe("BAD_USER_INPUT");

    const sources = await limited.orgraph.deps.db.selectFrom("security_events").select("source").distinct().execute();
    expect(sources.map((s) => s.source).sort()).toEqual(["addr:127.0.0.2", "addr:127.0.0.3"]);
  });
});

describe("behind a trusted proxy (TRUSTED_PROXIES)", () => {
  let proxied: TestApp;
  beforeAll(async () => {
    proxied = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "2", TRUSTED_PROXIES: "127.0.0.5, 10.0.0.0/8" } });
  });
  afterAll(() => proxied?.close());

  it("counts the right-most untrusted X-Forwarded-For entry, and only when the peer is a trusted proxy", async () => {
    const url = (await proxied.http("/healthz")).url.replace("/healthz", "/graphql");
    const status = async (from: string, forwardedFor: string) => (await postFrom(from, url, { query: acceptX }, { "x-forwarded-for": forwardedFor })).status;
    // Client 192.0.2.1, through an inner trusted hop (10.1.1.1) and the proxy; what it wrote further left is ignored.
    expect([await status("127.0.0.5", "203.0.113.9, 192.0.2.1, 10.1.1.1"), await status("127.0.0.5", "198.51.100.7, 192.0.2.1")]).toEqual([200, 200]);
    expect(await status("127.0.0.5", "192.0.2.1")).toBe(429);
    // Another client behind the same proxy has its own bucket.
    expect(await status("127.0.0.5", "192.0.2.2")).toBe(200);
    // Not through the proxy: the header is the caller's own word, and not read.
    expect([await status("127.0.0.6", "192.0.2.3"), await status("127.0.0.6", "192.0.2.4")]).toEqual([200, 200]);
    expect(await status("127.0.0.6", "192.0.2.5")).toBe(429);
    const sources = await proxied.orgraph.deps.db.selectFrom("security_events").select("source").distinct().execute();
    expect(sources.map((s) => s.source).sort()).toEqual(["addr:127.0.0.6", "addr:192.0.2.1", "addr:192.0.2.2"]);
  });

  it("refuses a TRUSTED_PROXIES entry that is not an address or CIDR", async () => {
    const { loadConfig } = await import("../src/config.js");
    expect(() => loadConfig({ TRUSTED_PROXIES: "10.0.0.0/33, lb.internal" })).toThrow(/TRUSTED_PROXIES must be IP addresses or CIDRs.*\n.*lb\.internal/);
  });
});
