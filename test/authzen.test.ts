import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../src/ids.js";
import { startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";
import { Scrape } from "./helpers/prometheus.js";

/**
 * The OpenID AuthZEN Authorization API 1.0 (issue 14 §5) through real HTTP: requests and answers
 * shaped as the specification's examples (its ids adapted to ours), the same decisions as
 * /v1/authorize, batch semantics, errors and the PDP metadata document.
 */
let app: TestApp;
let org: SeededOrg;
let stranger: SeededOrg;
let team: string;
let llama: string;
let operator: SeededMember;
let viewer: SeededMember;
let inferenceKey: { id: string; secret: string };
let fullKey: { id: string; secret: string };
let serviceAccount: { id: string; keyId: string; secret: string };

const REQUEST_ID = "bfe9eb29-ab87-4ca3-be83-a1d5d8305716";

async function post(path: string, key: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  const response = await app.http(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") ?? "";
  return { status: response.status, headers: response.headers, type, body: type.startsWith("application/json") ? await response.json() : await response.text() };
}

const evaluation = (key: string | undefined, body: unknown, headers?: Record<string, string>) => post("/access/v1/evaluation", key, body, headers);
const evaluations = (key: string | undefined, body: unknown, headers?: Record<string, string>) => post("/access/v1/evaluations", key, body, headers);

const model = (id: string, environment: string) => ({ type: "model", id, properties: { team, environment } });

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org("Acme");
  stranger = await app.seed.org("Elsewhere");
  const admin = org.admin.key;
  team = await app.seed.team(org, "Research");
  operator = await app.seed.member(org, "MEMBER", [{ teamId: team, role: "OPERATOR" }], "operator");
  viewer = await app.seed.member(org, "MEMBER", [{ teamId: team, role: "VIEWER" }], "viewer");
  llama = (await app.ok(admin, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: team })).createModel.id;
  await app.ok(admin, `mutation($t: ID!) { createModel(teamId: $t, name: "mistral") { id } }`, { t: team });
  const staging = (await app.ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: team })).createEnvironment.id;
  await app.ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "production", restricted: true) { id } }`, { t: team });
  const key = async (type: string, environmentIds?: string[]) => {
    const created = await app.ok(
      admin,
      `mutation($t: ID!, $type: ApiKeyType!, $e: [ID!]) { createApiKey(input: { name: "k", teamId: $t, type: $type, environmentIds: $e }) { apiKey { id } secret } }`,
      { t: team, type, e: environmentIds ?? null },
    );
    return { id: created.createApiKey.apiKey.id as string, secret: created.createApiKey.secret as string };
  };
  inferenceKey = await key("INFERENCE_ONLY", [staging]);
  fullKey = await key("FULL_ACCESS");
  const account = await app.ok(admin, `mutation($t: ID!) { createServiceAccount(teamId: $t, name: "bot", role: OPERATOR) { serviceAccount { id } apiKey { id } secret } }`, { t: team });
  serviceAccount = { id: account.createServiceAccount.serviceAccount.id, keyId: account.createServiceAccount.apiKey.id, secret: account.createServiceAccount.secret };
}, 120_000);
afterAll(() => app?.close());

describe("Access Evaluation (POST /access/v1/evaluation)", () => {
  it("the specification's example request, adapted: 200, {\"decision\": true}, X-Request-ID echoed", async () => {
    const answer = await evaluation(
      operator.key,
      {
        subject: { type: "user", id: operator.userId },
        resource: { type: "model", id: llama, properties: { team, environment: "staging" } },
        action: { name: "model:invoke" },
        context: { time: "1985-10-26T01:22-07:00" },
      },
      { "x-request-id": REQUEST_ID },
    );
    expect(answer.status).toBe(200);
    expect(answer.type).toBe("application/json");
    expect(answer.headers.get("x-request-id")).toBe(REQUEST_ID);
    expect(answer.body).toEqual({ decision: true });
  });

  it("a denial is 200 with decision false and the reason in context (the specification's reason example)", async () => {
    const answer = await evaluation(viewer.key, { subject: { type: "user", id: viewer.userId }, resource: model("llama", "staging"), action: { name: "model:invoke" } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ decision: false, context: { reason: "Not allowed to invoke this model in this environment" } });
  });

  it("a subject other than the caller is denied with one answer, whether or not it exists", async () => {
    const ask = (id: string) => evaluation(viewer.key, { subject: { type: "user", id }, resource: model("llama", "staging"), action: { name: "model:invoke" } });
    const other = await ask(operator.userId);
    expect(other).toMatchObject({ status: 200, body: { decision: false, context: { reason: "The subject must be the authenticated caller" } } });
    expect((await ask(newId("User"))).body).toEqual(other.body);
    expect((await ask(stranger.admin.userId)).body).toEqual(other.body);
  });

  it("a key names itself as subject api_key; a service account's key as service_account or api_key", async () => {
    const invoke = (subject: unknown) => ({ subject, resource: model("llama", "staging"), action: { name: "model:invoke" } });
    expect((await evaluation(inferenceKey.secret, invoke({ type: "api_key", id: inferenceKey.id }))).body).toEqual({ decision: true });
    expect((await evaluation(serviceAccount.secret, invoke({ type: "service_account", id: serviceAccount.id }))).body).toEqual({ decision: true });
    expect((await evaluation(serviceAccount.secret, invoke({ type: "api_key", id: serviceAccount.keyId }))).body).toEqual({ decision: true });
    expect((await evaluation(inferenceKey.secret, invoke({ type: "api_key", id: fullKey.id }))).body.decision).toBe(false);
  });
});

describe("the same decisions as /v1/authorize", () => {
  it("over principals × actions × models × environments", async () => {
    const principals = () => [
      { name: "org admin", key: org.admin.key, subject: { type: "user", id: org.admin.userId } },
      { name: "operator", key: operator.key, subject: { type: "user", id: operator.userId } },
      { name: "viewer", key: viewer.key, subject: { type: "user", id: viewer.userId } },
      { name: "stranger", key: stranger.admin.key, subject: { type: "user", id: stranger.admin.userId } },
      { name: "inference key (staging)", key: inferenceKey.secret, subject: { type: "api_key", id: inferenceKey.id } },
      { name: "full-access key", key: fullKey.secret, subject: { type: "api_key", id: fullKey.id } },
      { name: "service account", key: serviceAccount.secret, subject: { type: "service_account", id: serviceAccount.id } },
    ];
    const actions = ["model:invoke", "metrics:read", "environment:manage", "invoke"];
    const models = ["llama", llama, "no-such-model"];
    const environments = ["staging", "production", "no-such-environment"];
    let allowed = 0;
    let denied = 0;
    for (const principal of principals()) {
      for (const action of actions) {
        for (const modelName of models) {
          for (const environment of environments) {
            const gateway = await authorize(app, principal.key, { action, team, model: modelName, environment });
            const standard = await evaluation(principal.key, { subject: principal.subject, action: { name: action }, resource: model(modelName, environment) });
            const where = `${principal.name} ${action} ${modelName} ${environment}`;
            expect(standard.status, where).toBe(200);
            expect(standard.body.decision, where).toBe(gateway.status === 200);
            if (gateway.status !== 200) expect(standard.body.context.reason, where).toBe(gateway.body.reason);
            if (gateway.status === 200) allowed++;
            else denied++;
          }
        }
      }
    }
    // The matrix holds both answers, plenty of each.
    expect(allowed).toBeGreaterThan(20);
    expect(denied).toBeGreaterThan(100);
  });
});

describe("Access Evaluations (POST /access/v1/evaluations)", () => {
  it("the specification's example with defaults: top-level subject, context and action, overridden by an item", async () => {
    const answer = await evaluations(
      operator.key,
      {
        subject: { type: "user", id: operator.userId },
        context: { time: "2024-05-31T15:22-07:00" },
        action: { name: "model:invoke" },
        evaluations: [
          { resource: model("llama", "staging") },
          { resource: model("mistral", "staging") },
          { action: { name: "environment:manage" }, resource: model("llama", "production") },
        ],
      },
      { "x-request-id": REQUEST_ID },
    );
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-request-id")).toBe(REQUEST_ID);
    expect(answer.body).toEqual({
      evaluations: [{ decision: true }, { decision: true }, { decision: false, context: { reason: "Not allowed to manage this model in this environment" } }],
    });
  });

  const three = (semantic?: string) => ({
    subject: { type: "user", id: operator.userId },
    action: { name: "model:invoke" },
    ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
    evaluations: [{ resource: model("llama", "staging") }, { resource: model("llama", "no-such-environment") }, { resource: model("mistral", "staging") }],
  });

  it("execute_all (the default): every item, in order", async () => {
    const expected = { evaluations: [{ decision: true }, { decision: false, context: { reason: "The team has no such environment" } }, { decision: true }] };
    expect((await evaluations(operator.key, three("execute_all"))).body).toEqual(expected);
    expect((await evaluations(operator.key, three())).body).toEqual(expected);
  });

  it("deny_on_first_deny: stops after the first denial", async () => {
    expect((await evaluations(operator.key, three("deny_on_first_deny"))).body).toEqual({
      evaluations: [{ decision: true }, { decision: false, context: { reason: "The team has no such environment" } }],
    });
  });

  it("permit_on_first_permit: stops after the first permit", async () => {
    expect((await evaluations(operator.key, three("permit_on_first_permit"))).body).toEqual({ evaluations: [{ decision: true }] });
    const viewerFirst = { ...three("permit_on_first_permit"), subject: { type: "user", id: viewer.userId } };
    // Nothing permits the viewer: every item is evaluated and denied.
    const answer = await evaluations(viewer.key, viewerFirst);
    expect(answer.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([false, false, false]);
  });

  it("an item that does not map is denied with its error; the others are answered", async () => {
    const answer = await evaluations(operator.key, {
      subject: { type: "user", id: operator.userId },
      evaluations: [
        { action: { name: "model:invoke" }, resource: model("llama", "staging") },
        { action: { name: "fly" }, resource: model("llama", "staging") },
        { action: { name: "model:invoke" }, resource: { type: "document", id: "boxcarring.md" } },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.evaluations[0]).toEqual({ decision: true });
    expect(answer.body.evaluations[1]).toMatchObject({ decision: false, context: { error: { status: 400 } } });
    expect(answer.body.evaluations[1].context.error.message).toContain('"action" must be one of');
    expect(answer.body.evaluations[2]).toEqual({ decision: false, context: { error: { status: 400, message: '"resource.type" must be "model"' } } });
  });

  it("without an evaluations array it answers as a single evaluation", async () => {
    const single = { subject: { type: "user", id: operator.userId }, action: { name: "model:invoke" }, resource: model("llama", "staging") };
    expect((await evaluations(operator.key, single)).body).toEqual({ decision: true });
    expect((await evaluations(operator.key, { ...single, evaluations: [] })).body).toEqual({ decision: true });
  });
});

describe("errors", () => {
  const valid = () => ({ subject: { type: "user", id: operator.userId }, action: { name: "model:invoke" }, resource: model("llama", "staging") });

  it("400 for a malformed request, with an error message string", async () => {
    for (const [body, message] of [
      ["{not json", "The body must be JSON"],
      [[], "The body must be a JSON object"],
      [{ action: { name: "model:invoke" }, resource: model("llama", "staging") }, '"subject" is required'],
      [{ ...valid(), subject: { type: "user" } }, '"subject.id" is required'],
      [{ ...valid(), action: { name: 7 } }, '"action.name" is required'],
      [{ ...valid(), action: { name: "fly" } }, '"action" must be one of'],
      [{ ...valid(), resource: { type: "model", id: "llama" } }, '"environment" must be an environment name'],
    ] as const) {
      const answer = await evaluation(operator.key, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.type).toBe("text/plain; charset=utf-8");
      expect(answer.body).toContain(message);
    }
    for (const body of [
      { evaluations: {} },
      { ...valid(), options: { evaluations_semantic: "some" }, evaluations: [{}] },
      { evaluations: [{ resource: model("llama", "staging") }] },
      { ...valid(), evaluations: Array.from({ length: 101 }, () => ({})) },
    ]) {
      expect((await evaluations(operator.key, body)).status, JSON.stringify(body).slice(0, 80)).toBe(400);
    }
  });

  it("401 without credentials or with bad ones", async () => {
    expect(await evaluation(undefined, valid())).toMatchObject({ status: 401, body: "Missing credentials" });
    expect((await evaluation("org_live_not-a-key", valid())).status).toBe(401);
    expect((await evaluations(undefined, { ...valid(), evaluations: [{}] })).status).toBe(401);
  });

  it("413 for a body over the cap", async () => {
    const huge = { ...valid(), context: { padding: "x".repeat(2_000_000) } };
    expect((await evaluation(operator.key, huge)).status).toBe(413);
  });
});

describe("the PDP metadata document", () => {
  it("GET /.well-known/authzen-configuration names this PDP and its evaluation endpoints", async () => {
    const base = await app.httpUrl();
    const response = await app.http("/.well-known/authzen-configuration");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
    });
  });
});

describe("metrics", () => {
  it("the AuthZEN routes are labelled as themselves in the request histogram", async () => {
    await evaluation(operator.key, { subject: { type: "user", id: operator.userId }, action: { name: "model:invoke" }, resource: model("llama", "staging") });
    await evaluations(operator.key, { subject: { type: "user", id: operator.userId }, action: { name: "model:invoke" }, evaluations: [{ resource: model("llama", "staging") }] });
    await (await app.http("/.well-known/authzen-configuration")).json();
    const scrape = new Scrape(await (await app.http("/metrics")).text());
    const routes = scrape.labelValues("orgraph_http_request_duration_seconds_count", "route");
    expect(routes).toEqual(expect.arrayContaining(["/access/v1/evaluation", "/access/v1/evaluations", "/.well-known/authzen-configuration"]));
  });
});
