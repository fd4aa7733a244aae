import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Admission, type Release } from "../src/http/admission.js";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";
import { Scrape } from "./helpers/prometheus.js";

/**
 * The second red team on the admission gate (issue 17 target 4), each finding a test that fails
 * on the gate before its fix: M1 (one connection, or one address, takes the whole line), L1 (the
 * gate's own 413 and 503 without X-Request-Id and CORS headers), L3 (a 413 connection kept open
 * draining the body). L2 (the bounds of the settings) is in config.test.ts.
 * The loopback peer 127.0.0.1 is a trusted proxy here, so X-Forwarded-For names the clients.
 */
const IN_FLIGHT = 2;
const QUEUED = 4;
/** ceil(QUEUED / 4): the places in line one client address may hold. */
const PER_CLIENT = 1;
let app: TestApp;
let org: SeededOrg;
let teamId: string;
let port: number;

const QUERY = `query($t: ID!) { team(id: $t) { name models(first: 5) { edges { node { name } } } } }`;
const body = () => JSON.stringify({ query: QUERY, variables: { t: teamId } });
const admission = () => app.orgraph.app.admission;
const state = () => [admission().inFlight, admission().queued];

beforeAll(async () => {
  app = await startTestApp({
    // A request timeout longer than any test: a connection left open after a 413 stays open.
    env: { GRAPHQL_MAX_IN_FLIGHT: String(IN_FLIGHT), GRAPHQL_MAX_QUEUED: String(QUEUED), GRAPHQL_QUEUE_MS: "60000", HTTP_REQUEST_TIMEOUT_MS: "600000", TRUST_PROXY: "127.0.0.1" },
  });
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Serving");
  await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: teamId });
  port = Number(new URL(await app.httpUrl()).port);
});
afterAll(() => app?.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** POST /graphql on a connection of its own, from `localAddress` (127.0.0.1: the trusted proxy) for the client `forwardedFor`. */
function graphql(options: { forwardedFor?: string; localAddress?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "content-type": "application/json", authorization: `Bearer ${org.admin.key}`, ...options.headers };
    if (options.forwardedFor) headers["x-forwarded-for"] = options.forwardedFor;
    const request = httpRequest({ host: "127.0.0.1", port, path: "/graphql", method: "POST", headers, agent: false, localAddress: options.localAddress ?? "127.0.0.1" }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, text }));
    });
    request.on("error", reject);
    request.end(body());
  });
}
const served = (answer: { status: number; text: string }) => answer.status === 200 && answer.text.includes('"name":"llama"');

/** `answer` if it comes before `request` takes a place in line (waiting there is the failure). */
async function answeredAtOnce(answer: Promise<Answer>, queuedOnceInLine: number): Promise<Answer | "waits in line"> {
  return Promise.race([answer, vi.waitFor(() => expect(admission().queued).toBe(queuedOnceInLine)).then(() => "waits in line" as const)]);
}

/** Holds the models table until unlock(): GraphQL reading it waits, executing. */
async function lockModels(): Promise<{ unlock: () => Promise<void> }> {
  let unlock!: () => void;
  const unlocked = new Promise<void>((resolve) => (unlock = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = app.orgraph.deps.db.transaction().execute(async (trx) => {
    await sql`LOCK TABLE models IN ACCESS EXCLUSIVE MODE`.execute(trx);
    locked();
    await unlocked;
  });
  await isLocked;
  return { unlock: () => (unlock(), holder) };
}

const post = (payload: string, extra = "") =>
  `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${org.admin.key}\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n${extra}\r\n${payload}`;

/** A raw connection: what it has received so far, and when the server closed it. */
function rawConnection(): { socket: Socket; received: () => string; closed: Promise<void> } {
  const socket = connect(port, "127.0.0.1");
  let text = "";
  socket.on("data", (chunk) => (text += chunk.toString()));
  socket.on("error", () => {});
  return { socket, received: () => text, closed: new Promise((resolve) => socket.once("close", () => resolve())) };
}

const count = (text: string, part: string) => text.split(part).length - 1;

async function idle(): Promise<void> {
  await vi.waitFor(() => expect(state()).toEqual([0, 0]), { timeout: 20_000, interval: 50 });
}

const shed = async (reason: string) => new Scrape(await (await app.http("/metrics")).text()).value("orgraph_graphql_shed_total", { reason });

describe("M1: one connection, or one client address, cannot take every slot and place in line", () => {
  it("pipelined requests on one connection are admitted one at a time: the rest hold neither a slot nor a place, and another client is served", async () => {
    const lock = await lockModels();
    const pipelined = rawConnection();
    let other: Promise<Answer> | undefined;
    try {
      pipelined.socket.write(Array.from({ length: IN_FLIGHT + QUEUED }, () => post(body())).join(""));
      await vi.waitFor(() => expect(admission().inFlight).toBeGreaterThan(0));
      other = graphql({ forwardedFor: "203.0.113.20" });
      // The other client takes the second slot; nothing of the pipelined connection is in line.
      await vi.waitFor(() => expect(state()).toEqual([2, 0]));
    } finally {
      await lock.unlock();
    }
    expect(served(await other!)).toBe(true);
    // Every pipelined request is then served in its turn, in order, on its connection.
    await vi.waitFor(() => expect(count(pipelined.received(), '"name":"llama"')).toBe(IN_FLIGHT + QUEUED), { timeout: 20_000 });
    expect(count(pipelined.received(), "HTTP/1.1 200 OK")).toBe(IN_FLIGHT + QUEUED);
    pipelined.socket.end();
    await idle();
  });

  it("a connection destroyed with requests waiting for their turn leaves nothing behind: no slot, no place, no request admitted later", async () => {
    const lock = await lockModels();
    const pipelined = rawConnection();
    try {
      pipelined.socket.write(Array.from({ length: 3 }, () => post(body())).join(""));
      await vi.waitFor(() => expect(state()).toEqual([1, 0]));
      pipelined.socket.destroy();
      await pipelined.closed;
    } finally {
      await lock.unlock();
    }
    await idle();
    // Still idle once every turn has passed: the waiting requests were not admitted after the close.
    for (let i = 0; i < 3; i++) expect((await app.http("/healthz")).status).toBe(200);
    expect(state()).toEqual([0, 0]);
    expect(served(await graphql())).toBe(true);
  });

  it(`one client address holds at most ceil(GRAPHQL_MAX_QUEUED / 4) places in line (${PER_CLIENT} here): beyond, 503 client_queue_full; X-Forwarded-For from an untrusted peer is not believed`, async () => {
    const before = await shed("client_queue_full");
    const held: Release[] = Array.from({ length: IN_FLIGHT }, () => admission().tryAcquire()!);
    expect(held.every(Boolean)).toBe(true);
    const waiting: Promise<Answer>[] = [];
    try {
      waiting.push(graphql({ forwardedFor: "203.0.113.7" }));
      await vi.waitFor(() => expect(admission().queued).toBe(1));
      const second = await answeredAtOnce(graphql({ forwardedFor: "203.0.113.7" }), 2);
      expect(second).toMatchObject({ status: 503, headers: { "retry-after": "1" } });
      expect(JSON.parse((second as Answer).text).errors[0].extensions.code).toBe("OVERLOADED");
      // Another client still gets a place.
      waiting.push(graphql({ forwardedFor: "203.0.113.8" }));
      await vi.waitFor(() => expect(admission().queued).toBe(2));
      // 127.0.0.2 is no trusted proxy: whatever it forwards, it is one client.
      waiting.push(graphql({ localAddress: "127.0.0.2", forwardedFor: "198.51.100.1" }));
      await vi.waitFor(() => expect(admission().queued).toBe(3));
      const spoofed = await answeredAtOnce(graphql({ localAddress: "127.0.0.2", forwardedFor: "198.51.100.2" }), 4);
      expect(spoofed).toMatchObject({ status: 503 });
    } finally {
      for (const release of held) release();
    }
    const answers = await Promise.all(waiting);
    expect(answers.every(served)).toBe(true);
    await idle();
    expect((await shed("client_queue_full")) - before).toBe(2);
  });

  it("the per-client bound in the gate itself: counted per key, given back on leaving, on being admitted and on timing out", async () => {
    const gate = new Admission({ maxInFlight: 1, maxQueued: 4, maxQueuedPerClient: 1, queueMs: 60_000 });
    const held = gate.tryAcquire()!;
    const a = gate.acquire("a");
    const refused = gate.acquire("a");
    expect(gate.queued).toBe(1);
    expect(await refused.slot).toBe("client_queue_full");
    a.leave();
    const again = gate.acquire("a");
    const b = gate.acquire("b");
    expect(gate.queued).toBe(2);
    held();
    const slot = (await again.slot) as Release;
    // Admitted: its place is free again for the same client.
    const third = gate.acquire("a");
    expect(gate.queued).toBe(2);
    slot();
    ((await b.slot) as Release)();
    ((await third.slot) as Release)();
    expect([gate.inFlight, gate.queued]).toEqual([0, 0]);
    // A place that timed out is given back too.
    const quick = new Admission({ maxInFlight: 1, maxQueued: 4, maxQueuedPerClient: 1, queueMs: 1 });
    const busy = quick.tryAcquire()!;
    expect(await quick.acquire("a").slot).toBe("queue_timeout");
    const after = quick.acquire("a");
    expect(quick.queued).toBe(1);
    after.leave();
    busy();
  });
});

describe("L1: the gate's own answers carry X-Request-Id and the CORS headers yoga would send", () => {
  const ORIGIN = "https://console.example";
  const CORS = ["access-control-allow-origin", "access-control-allow-credentials", "vary"] as const;

  it("503 OVERLOADED: the caller's request id (or a fresh one), the Origin allowed as yoga allows it, Retry-After readable by a browser", async () => {
    const yoga = await graphql({ headers: { origin: ORIGIN } });
    expect(served(yoga)).toBe(true);
    expect(yoga.headers["access-control-allow-origin"]).toBe(ORIGIN);
    const held: Release[] = Array.from({ length: IN_FLIGHT }, () => admission().tryAcquire()!);
    const waiting = Array.from({ length: QUEUED }, (_, i) => graphql({ forwardedFor: `203.0.113.${30 + i}` }));
    try {
      await vi.waitFor(() => expect(admission().queued).toBe(QUEUED));
      const refused = await graphql({ forwardedFor: "203.0.113.40", headers: { origin: ORIGIN, "x-request-id": "trace-abc.1" } });
      expect(refused.status).toBe(503);
      expect(refused.headers["x-request-id"]).toBe("trace-abc.1");
      for (const name of CORS) expect({ name, value: refused.headers[name] }).toEqual({ name, value: yoga.headers[name] });
      expect(String(refused.headers["access-control-expose-headers"]).toLowerCase()).toContain("retry-after");
      // An id that is not plain is replaced, as everywhere else.
      const fresh = await graphql({ forwardedFor: "203.0.113.41", headers: { "x-request-id": "has spaces" } });
      expect(fresh.status).toBe(503);
      expect(fresh.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
      // No Origin, no CORS headers (as from yoga).
      expect(fresh.headers["access-control-allow-origin"]).toBeUndefined();
    } finally {
      for (const release of held) release();
    }
    expect((await Promise.all(waiting)).every(served)).toBe(true);
    await idle();
  });
});

describe("L3: a 413 ends its connection", () => {
  it("a huge Content-Length is answered 413 with connection: close, X-Request-Id and CORS headers, and the server closes the socket", async () => {
    const connection = rawConnection();
    connection.socket.write(
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nOrigin: https://console.example\r\nX-Request-Id: big-1\r\nContent-Length: 100000000000\r\n\r\n{"query":`,
    );
    await vi.waitFor(() => expect(connection.received()).toContain("\r\n\r\n"));
    const head = connection.received().split("\r\n\r\n")[0]!.toLowerCase();
    expect(head.split("\r\n")[0]).toBe("http/1.1 413 payload too large");
    expect(head).toContain("\r\nconnection: close");
    expect(head).toContain("\r\nx-request-id: big-1");
    expect(head).toContain("\r\naccess-control-allow-origin: https://console.example");
    // Closed by the server (this side only listens), with the rest of the body never sent.
    await connection.closed;
    expect(connection.socket.destroyed).toBe(true);
  });
});
