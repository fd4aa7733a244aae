import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type GraphQLResponse, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 13, "chain runs and human decisions": the runtime reports a run's progress
 * (updateChainRun), a person decides on a waiting run (decideChainRun) — never the one who
 * started it, never a key — and whoever may run the chain cancels (cancelChainRun).
 */
let app: TestApp;
let org: SeededOrg;
let teamId: string;
let chainId: string;
let signJwt: (email: string) => Promise<string>;
const callers: Record<string, string> = {};
const ids: Record<string, string> = {};

const RUN = `mutation($c: ID!) { runChain(id: $c) { id status } }`;
const UPDATE = `mutation($id: ID!, $s: ChainRunStatus!, $r: JSON, $d: String) { updateChainRun(id: $id, status: $s, result: $r, decision: $d) { id status result pendingDecision } }`;
const DECIDE = `mutation($id: ID!, $a: Boolean!, $c: String) { decideChainRun(id: $id, approve: $a, comment: $c) { id status pendingDecision decisions { question approve comment decidedBy { id } decidedAt } } }`;
const CANCEL = `mutation($id: ID!) { cancelChainRun(id: $id) { id status pendingDecision } }`;
const GHOST_RUN = `run_${"0".repeat(28)}`;

const codeOf = (result: GraphQLResponse) => result.errors?.map((e) => e.extensions?.code);
const answer = (result: GraphQLResponse) => JSON.stringify({ data: result.data ?? null, errors: (result.errors ?? []).map((e) => ({ code: e.extensions?.code, message: e.message })) });

beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  app = await startTestApp({
    env: {
      RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000",
      JWT_ISSUER: "https://idp.example.test/",
      JWT_AUDIENCE: "orgraph",
      JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey),
    },
  });
  signJwt = (email) =>
    new SignJWT({ email, email_verified: true })
      .setProtectedHeader({ alg: "RS256" })
      .setSubject(`idp-${email}`)
      .setIssuer("https://idp.example.test/")
      .setAudience("orgraph")
      .setExpirationTime("5m")
      .sign(pair.privateKey);
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Agents");
  chainId = (await app.ok(org.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "support-bot") { id } }`, { t: teamId })).createChain.id;
  callers["org ADMIN"] = org.admin.key;
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const) {
    const member = await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase());
    callers[`team ${role}`] = member.key;
    ids[`team ${role}`] = member.userId;
  }
  for (const access of ["VIEWER", "RUNNER", "EDITOR"] as const) {
    const guest = await app.seed.member(org, "MEMBER", [], `chain-${access.toLowerCase()}`);
    await app.ok(org.admin.key, `mutation($c: ID!, $u: ID!, $a: ChainAccess!) { shareChain(chainId: $c, userId: $u, access: $a) { id } }`, { c: chainId, u: guest.userId, a: access });
    callers[`chain ${access}`] = guest.key;
  }
  for (const [label, permissions] of [["custom role with chains:run", ["team:view", "chains:run"]], ["custom role without chains:run", ["team:view"]]] as const) {
    const holder = await app.seed.member(org, "MEMBER", [], "custom");
    const role = (await app.ok(org.admin.key, `mutation($o: ID!, $n: String!, $p: [String!]!) { createRole(organizationId: $o, name: $n, permissions: $p) { id } }`, { o: org.orgId, n: label, p: [...permissions] })).createRole.id;
    await app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: teamId, p: holder.userId });
    callers[label] = holder.key;
  }
  for (const type of ["FULL_ACCESS", "INFERENCE_ONLY"] as const) {
    callers[`${type} team key`] = (await app.ok(org.admin.key, `mutation($t: ID!, $type: ApiKeyType!) { createApiKey(input: { name: "k", teamId: $t, type: $type }) { secret } }`, { t: teamId, type })).createApiKey.secret;
  }
  // An environment scope narrows deployments and inference; a chain is in no environment.
  const staging = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: teamId })).createEnvironment.id;
  callers["FULL_ACCESS key scoped to an environment"] = (
    await app.ok(org.admin.key, `mutation($t: ID!, $e: ID!) { createApiKey(input: { name: "k", teamId: $t, type: FULL_ACCESS, environmentIds: [$e] }) { secret } }`, { t: teamId, e: staging })
  ).createApiKey.secret;
  callers["service account (team MEMBER)"] = (await app.ok(org.admin.key, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "runtime", role: MEMBER) { secret } }`, { t: teamId })).createServiceAccount.secret;
  const stranger = await app.seed.org("Elsewhere");
  callers["ADMIN of another organization"] = stranger.admin.key;
  const foreignChain = (await app.ok(stranger.admin.key, `mutation($t: ID!) { createChain(teamId: $t, name: "theirs") { id } }`, { t: stranger.defaultTeamId })).createChain.id;
  ids["foreign run"] = (await app.ok(stranger.admin.key, RUN, { c: foreignChain })).runChain.id;
});
afterAll(() => app?.close());

/** A new run of the chain, started by `starter` (the runtime's key by default). */
const newRun = async (starter = callers["FULL_ACCESS team key"]!) => (await app.ok(starter, RUN, { c: chainId })).runChain.id as string;
/** A new run the runtime has put on hold with a question. */
async function waitingRun(starter?: string): Promise<string> {
  const id = await newRun(starter);
  const runtime = callers["FULL_ACCESS team key"]!;
  await app.ok(runtime, UPDATE, { id, s: "RUNNING" });
  await app.ok(runtime, UPDATE, { id, s: "WAITING_FOR_APPROVAL", d: "Refund 120 EUR to order 42?", r: { draft: "refund" } });
  return id;
}

const RUNNERS = ["org ADMIN", "team ADMIN", "team MEMBER", "team OPERATOR", "chain RUNNER", "chain EDITOR", "custom role with chains:run"];
const VISIBLE_NON_RUNNERS = ["team VIEWER", "chain VIEWER", "custom role without chains:run"];
const OUTSIDERS = ["INFERENCE_ONLY team key", "ADMIN of another organization"];

describe("a run's lifecycle", () => {
  it("a run the runtime puts on hold waits for a second person, whose approval resumes it and is recorded", async () => {
    const operator = callers["team OPERATOR"]!;
    const runtime = callers["FULL_ACCESS team key"]!;
    const id = await newRun(operator);
    expect((await app.ok(runtime, UPDATE, { id, s: "RUNNING", r: { step: 1 } })).updateChainRun).toMatchObject({ status: "RUNNING", result: { step: 1 } });
    const waiting = (await app.ok(runtime, UPDATE, { id, s: "WAITING_FOR_APPROVAL", d: "Send the email to 3,000 customers?" })).updateChainRun;
    expect(waiting).toMatchObject({ status: "WAITING_FOR_APPROVAL", pendingDecision: "Send the email to 3,000 customers?", result: { step: 1 } });
    const approved = (await app.ok(callers["team MEMBER"], DECIDE, { id, a: true, c: "Checked the list" })).decideChainRun;
    expect(approved).toMatchObject({
      status: "RUNNING",
      pendingDecision: null,
      decisions: [{ question: "Send the email to 3,000 customers?", approve: true, comment: "Checked the list", decidedBy: { id: ids["team MEMBER"] } }],
    });
    expect((await app.ok(runtime, UPDATE, { id, s: "SUCCEEDED", r: { sent: 3000 } })).updateChainRun).toMatchObject({ status: "SUCCEEDED", result: { sent: 3000 } });
    const read = await app.ok(operator, `query($id: ID!) { node(id: $id) { ... on ChainRun { status result startedBy { id } updatedAt createdAt decisions { approve } } } }`, { id });
    expect(read.node).toMatchObject({ status: "SUCCEEDED", result: { sent: 3000 }, startedBy: { id: ids["team OPERATOR"] }, decisions: [{ approve: true }] });
    expect(new Date(read.node.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(read.node.createdAt).getTime());
  });

  it("a denial fails the run, and the decision is in the audit log with who, when and the comment", async () => {
    const id = await waitingRun();
    const denied = (await app.ok(callers["team ADMIN"], DECIDE, { id, a: false, c: "Too expensive" })).decideChainRun;
    expect(denied).toMatchObject({ status: "FAILED", decisions: [{ approve: false, comment: "Too expensive", decidedBy: { id: ids["team ADMIN"] } }] });
    const event = await app.orgraph.deps.db.selectFrom("audit_events").selectAll().where("action", "=", "chain_run.decide").where("target_id", "=", id).executeTakeFirstOrThrow();
    expect(event).toMatchObject({ actor_id: ids["team ADMIN"], result: "SUCCESS", org_id: org.orgId, team_id: teamId });
    expect(event.diff).toMatchObject({
      status: { before: "WAITING_FOR_APPROVAL", after: "FAILED" },
      decision: { question: "Refund 120 EUR to order 42?", approve: false, comment: "Too expensive", decidedBy: ids["team ADMIN"] },
    });
  });

  it.each([
    ["QUEUED", "SUCCEEDED"],
    ["QUEUED", "WAITING_FOR_APPROVAL"],
    ["WAITING_FOR_APPROVAL", "RUNNING"],
    ["WAITING_FOR_APPROVAL", "SUCCEEDED"],
    ["SUCCEEDED", "RUNNING"],
    ["CANCELLED", "RUNNING"],
    ["FAILED", "FAILED"],
  ] as const)("the runtime cannot move a %s run to %s (BAD_USER_INPUT)", async (from, to) => {
    const runtime = callers["FULL_ACCESS team key"]!;
    const id = from === "WAITING_FOR_APPROVAL" ? await waitingRun() : await newRun();
    if (from === "SUCCEEDED") await app.ok(runtime, UPDATE, { id, s: "RUNNING" });
    if (from !== "QUEUED" && from !== "WAITING_FOR_APPROVAL") await app.ok(runtime, UPDATE, { id, s: from });
    const decision = to === "WAITING_FOR_APPROVAL" ? "Go on?" : null;
    expect(codeOf(await app.gql(runtime, UPDATE, { id, s: to, d: decision }))).toEqual(["BAD_USER_INPUT"]);
    expect((await app.ok(runtime, `query($id: ID!) { node(id: $id) { ... on ChainRun { status } } }`, { id })).node.status).toBe(from);
  });

  it("a decision text goes with WAITING_FOR_APPROVAL only, and that status needs one; results and texts are capped", async () => {
    const runtime = callers["FULL_ACCESS team key"]!;
    const id = await newRun();
    await app.ok(runtime, UPDATE, { id, s: "RUNNING" });
    expect(codeOf(await app.gql(runtime, UPDATE, { id, s: "RUNNING", d: "Really?" }))).toEqual(["BAD_USER_INPUT"]);
    expect(codeOf(await app.gql(runtime, UPDATE, { id, s: "WAITING_FOR_APPROVAL" }))).toEqual(["BAD_USER_INPUT"]);
    expect(codeOf(await app.gql(runtime, UPDATE, { id, s: "WAITING_FOR_APPROVAL", d: "   " }))).toEqual(["BAD_USER_INPUT"]);
    expect(codeOf(await app.gql(runtime, UPDATE, { id, s: "WAITING_FOR_APPROVAL", d: "x".repeat(2001) }))).toEqual(["BAD_USER_INPUT"]);
    expect(codeOf(await app.gql(runtime, UPDATE, { id, s: "RUNNING", r: { blob: "x".repeat(256 * 1024) } }))).toEqual(["BAD_USER_INPUT"]);
    await app.ok(runtime, UPDATE, { id, s: "WAITING_FOR_APPROVAL", d: "Go on?" });
    expect(codeOf(await app.gql(callers["team ADMIN"], DECIDE, { id, a: true, c: "y".repeat(2001) }))).toEqual(["BAD_USER_INPUT"]);
    expect(codeOf(await app.gql(runtime, UPDATE, { id: "not-an-id", s: "RUNNING" }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("only a waiting run is decided (CONFLICT otherwise), and two decisions at once: exactly one applies", async () => {
    const queued = await newRun();
    expect(codeOf(await app.gql(callers["team ADMIN"], DECIDE, { id: queued, a: true }))).toEqual(["CONFLICT"]);
    const id = await waitingRun();
    const both = await Promise.all([app.gql(callers["team ADMIN"], DECIDE, { id, a: true }), app.gql(callers["team MEMBER"], DECIDE, { id, a: false })]);
    expect(both.map((r) => (r.errors ? r.errors[0]!.extensions?.code : "OK")).sort()).toEqual(["CONFLICT", "OK"]);
    const decisions = (await app.ok(org.admin.key, `query($id: ID!) { node(id: $id) { ... on ChainRun { decisions { approve } } } }`, { id })).node.decisions;
    expect(decisions).toHaveLength(1);
  });

  it("cancelling ends a queued, running or waiting run; an ended run is a CONFLICT", async () => {
    const runtime = callers["FULL_ACCESS team key"]!;
    const waiting = await waitingRun();
    expect((await app.ok(callers["chain RUNNER"], CANCEL, { id: waiting })).cancelChainRun).toEqual({ id: waiting, status: "CANCELLED", pendingDecision: null });
    expect(codeOf(await app.gql(callers["chain RUNNER"], CANCEL, { id: waiting }))).toEqual(["CONFLICT"]);
    expect(codeOf(await app.gql(callers["chain RUNNER"], DECIDE, { id: waiting, a: true }))).toEqual(["CONFLICT"]);
    const running = await newRun();
    await app.ok(runtime, UPDATE, { id: running, s: "RUNNING" });
    expect((await app.ok(runtime, CANCEL, { id: running })).cancelChainRun.status).toBe("CANCELLED");
  });
});

describe("who may report, decide and cancel (chain:run)", () => {
  it.each(RUNNERS.concat("FULL_ACCESS team key", "FULL_ACCESS key scoped to an environment", "service account (team MEMBER)"))("%s reports a run's progress", async (who) => {
    const id = await newRun();
    expect((await app.ok(callers[who], UPDATE, { id, s: "RUNNING" })).updateChainRun.status).toBe("RUNNING");
  });

  it.each(RUNNERS.concat("FULL_ACCESS team key"))("%s cancels a run", async (who) => {
    const id = await newRun();
    expect((await app.ok(callers[who], CANCEL, { id })).cancelChainRun.status).toBe("CANCELLED");
  });

  it.each(RUNNERS)("%s, a person who did not start the run, decides on it", async (who) => {
    const id = await waitingRun();
    expect((await app.ok(callers[who], DECIDE, { id, a: true })).decideChainRun.status).toBe("RUNNING");
  });

  it.each(VISIBLE_NON_RUNNERS)("%s sees the run but may not report, decide or cancel (FORBIDDEN)", async (who) => {
    const id = await waitingRun();
    expect(codeOf(await app.gql(callers[who], UPDATE, { id, s: "FAILED" }))).toEqual(["FORBIDDEN"]);
    expect(codeOf(await app.gql(callers[who], DECIDE, { id, a: true }))).toEqual(["FORBIDDEN"]);
    expect(codeOf(await app.gql(callers[who], CANCEL, { id }))).toEqual(["FORBIDDEN"]);
  });

  it.each(OUTSIDERS)("%s cannot see the run: every call answers exactly as for a nonexistent run", async (who) => {
    const id = await waitingRun();
    for (const [query, variables] of [[UPDATE, { s: "FAILED" }], [DECIDE, { a: true }], [CANCEL, {}]] as const) {
      const real = await app.gql(callers[who], query, { id, ...variables });
      expect(codeOf(real)).toEqual(["NOT_FOUND"]);
      expect(answer(real)).toBe(answer(await app.gql(callers[who], query, { id: GHOST_RUN, ...variables })));
    }
    const read = await app.ok(org.admin.key, `query($id: ID!) { node(id: $id) { ... on ChainRun { status } } }`, { id });
    expect(read.node.status).toBe("WAITING_FOR_APPROVAL");
  });

  it("a run of another organization's chain answers to this organization's runners as a nonexistent run", async () => {
    for (const who of ["org ADMIN", "chain RUNNER", "FULL_ACCESS team key"]) {
      const foreign = await app.gql(callers[who], CANCEL, { id: ids["foreign run"] });
      expect(answer(foreign)).toBe(answer(await app.gql(callers[who], CANCEL, { id: GHOST_RUN })));
    }
  });

  it("signed out, every call is UNAUTHENTICATED", async () => {
    const id = await waitingRun();
    for (const [query, variables] of [[UPDATE, { s: "FAILED" }], [DECIDE, { a: true }], [CANCEL, {}]] as const) {
      expect(codeOf(await app.gql(undefined, query, { id, ...variables }))).toEqual(["UNAUTHENTICATED"]);
    }
  });
});

describe("separation of duties: an approval always involves a second person", () => {
  it("the person who started the run may not decide on it, with the key they started it with, another personal key, or their JWT", async () => {
    // A member of their own: their first verified sign-in (the JWT) revokes the keys minted before it.
    const starter = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }], "starter");
    const id = await waitingRun(starter.key);
    const secondKey = (await app.ok(starter.key, `mutation { createApiKey(input: { name: "second" }) { secret } }`)).createApiKey.secret;
    for (const credential of [starter.key, secondKey, await signJwt(starter.email)]) {
      const refused = await app.gql(credential, DECIDE, { id, a: true });
      expect(codeOf(refused)).toEqual(["FORBIDDEN"]);
      expect(refused.errors![0]!.message).toMatch(/started a run/);
    }
    expect((await app.ok(callers["team MEMBER"], DECIDE, { id, a: true, c: "second pair of eyes" })).decideChainRun.status).toBe("RUNNING");
  });

  it.each(["FULL_ACCESS team key", "service account (team MEMBER)"])("a %s holds chain:run but is not a person: it may not decide (FORBIDDEN)", async (who) => {
    const id = await waitingRun(callers["team OPERATOR"]);
    const refused = await app.gql(callers[who], DECIDE, { id, a: true });
    expect(codeOf(refused)).toEqual(["FORBIDDEN"]);
    expect(refused.errors![0]!.message).toMatch(/Only a person/);
  });

  it("a run started by a team key is decided by a person, and the refusals leave it waiting", async () => {
    const id = await waitingRun(callers["FULL_ACCESS team key"]);
    await app.gql(callers["FULL_ACCESS team key"], DECIDE, { id, a: true });
    await app.gql(callers["team VIEWER"], DECIDE, { id, a: true });
    expect((await app.ok(org.admin.key, `query($id: ID!) { node(id: $id) { ... on ChainRun { status decisions { approve } } } }`, { id })).node).toEqual({
      status: "WAITING_FOR_APPROVAL",
      decisions: [],
    });
    expect((await app.ok(callers["chain RUNNER"], DECIDE, { id, a: true })).decideChainRun.status).toBe("RUNNING");
  });
});
