import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Plugin } from "graphql-yoga";
import type { Config } from "../config.js";
import type { ShedReason } from "../observability/metrics.js";
import { isGraphiQLPageRequest } from "./graphiql.js";

/** Gives a slot back; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
  refuse: (reason: ShedReason) => void;
  timer: NodeJS.Timeout;
}

/**
 * At most `maxInFlight` GraphQL requests are worked on at once; up to `maxQueued` more wait,
 * first come first served, each at most `queueMs`. Anything beyond is refused at once, so an
 * overloaded server answers 503 in a millisecond instead of letting every request queue for
 * seconds in the event loop (and the health checks and the gateway with them).
 */
export class Admission {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** The Node requests holding a slot, with its release (the yoga plugin below checks and ends them). */
  private readonly admitted = new WeakMap<IncomingMessage, Release>();

  constructor(
    readonly limits: Config["admission"],
    private readonly onShed: (reason: ShedReason) => void = () => {},
  ) {}

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A slot now, if one is free and nobody waits for one (a newcomer never overtakes the queue). */
  tryAcquire(): Release | undefined {
    if (this.running >= this.limits.maxInFlight || this.waiting.length > 0) return undefined;
    this.running++;
    return this.releaser();
  }

  /**
   * A slot, now or after waiting in line; a refusal when the line is full or the wait is over.
   * `gone` is called by the caller when its client has left: the place in line is given up.
   */
  acquire(): { slot: Promise<Release | ShedReason>; leave: () => void } {
    const now = this.tryAcquire();
    if (now) return { slot: Promise.resolve(now), leave: () => {} };
    if (this.waiting.length >= this.limits.maxQueued) {
      this.onShed("queue_full");
      return { slot: Promise.resolve("queue_full"), leave: () => {} };
    }
    let waiter!: Waiter;
    const slot = new Promise<Release | ShedReason>((resolve) => {
      waiter = {
        grant: resolve,
        refuse: (reason) => {
          this.onShed(reason);
          resolve(reason);
        },
        timer: setTimeout(() => {
          if (this.remove(waiter)) waiter.refuse("queue_timeout");
        }, this.limits.queueMs),
      };
    });
    this.waiting.push(waiter);
    return { slot, leave: () => this.remove(waiter) };
  }

  private remove(waiter: Waiter): boolean {
    const index = this.waiting.indexOf(waiter);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    clearTimeout(waiter.timer);
    return true;
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (!next) {
        this.running--;
        return;
      }
      // The slot passes to the next in line (so `running` stays), on the next turn of the
      // event loop: handing it over synchronously ran waiter after waiter inside one
      // release and starved every socket of I/O.
      clearTimeout(next.timer);
      setImmediate(() => next.grant(this.releaser()));
    };
  }

  /** Marks `req` as holding `release` (http: the listener below). */
  admit(req: IncomingMessage, release: Release): void {
    this.admitted.set(req, release);
  }

  isAdmitted(req: IncomingMessage): boolean {
    return this.admitted.has(req);
  }

  /** The work for `req` is done: its slot goes back (once, whichever signal comes first). */
  finished(req: IncomingMessage): void {
    this.admitted.get(req)?.();
  }
}

/** What the gate holds back: GraphQL by its raw path (yoga answers every other path 404, useAdmittedGraphQL). */
export function isGatedRequest(req: IncomingMessage): boolean {
  if (req.method === "OPTIONS") return false;
  const url = req.url ?? "";
  const query = url.indexOf("?");
  const path = query >= 0 ? url.slice(0, query) : url;
  if (path !== "/graphql") return false;
  return !isGraphiQLPageRequest(req.method, req.headers.accept, path);
}

export const overloaded = () => ({
  status: 503,
  headers: { "content-type": "application/json; charset=utf-8", "retry-after": "1" },
  body: JSON.stringify({ errors: [{ message: "The server is at capacity: retry shortly", extensions: { code: "OVERLOADED" } }] }),
});

/**
 * The admission gate in front of yoga's Node listener. For a GraphQL request:
 * 1. the body is read first, bounded by MAX_BODY_BYTES (413 past it), without a slot, so a
 *    client sending slowly holds nothing but its own connection (the server's request timeout
 *    ends it);
 * 2. a slot is taken, or the request waits in line, or it is refused (503 OVERLOADED,
 *    Retry-After); a client that leaves while in line gives up its place;
 * 3. the slot goes back exactly once, when the work is done: yoga produced the response
 *    (useAdmittedGraphQL), the handler settled or the response finished, whichever is first.
 *    A client that disconnects does not free it while its request is still executing (its
 *    work still occupies the server); a pipelined request whose connection closed before its
 *    response began frees it as soon as yoga is done with it, although its response never
 *    'close's.
 * Every other request (health, readiness, metrics, the gateway, AuthZEN, exports, CORS
 * preflight, the GraphiQL page) passes straight through.
 */
export function withGraphqlAdmission(next: RequestListener, admission: Admission, maxBodyBytes: number): RequestListener {
  return (req, res) => {
    if (!isGatedRequest(req)) return next(req, res);
    readBody(req, maxBodyBytes).then(
      (body) => {
        if (body && body.length > 0) (req as IncomingMessage & { body?: unknown }).body = replayable(body);
        return admitAndServe(next, admission, req, res);
      },
      (error: unknown) => {
        if (error instanceof BodyOverLimit) send(res, 413, { "content-type": "application/json; charset=utf-8" }, JSON.stringify({ errors: [{ message: error.message, extensions: { code: "BAD_USER_INPUT" } }] }));
        // Otherwise the client went away mid-body: nobody to answer.
      },
    );
  };
}

/** Per connection, the places in line its requests hold: one 'close' listener however many are pipelined. */
const placesInLine = new WeakMap<Socket, Set<() => void>>();

function leaveOnClose(socket: Socket, leave: () => void): () => void {
  let places = placesInLine.get(socket);
  if (!places) {
    const created = new Set<() => void>();
    placesInLine.set(socket, (places = created));
    socket.once("close", () => {
      for (const place of created) place();
      created.clear();
    });
  }
  places.add(leave);
  return () => places.delete(leave);
}

async function admitAndServe(next: RequestListener, admission: Admission, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const socket = req.socket;
  const { slot, leave } = admission.acquire();
  const stay = leaveOnClose(socket, leave);
  const outcome = await slot;
  stay();
  if (typeof outcome === "string") {
    const refusal = overloaded();
    return send(res, refusal.status, refusal.headers, refusal.body);
  }
  if (socket.destroyed) return outcome();
  admission.admit(req, outcome);
  res.once("finish", outcome);
  try {
    await (next(req, res) as unknown);
  } finally {
    outcome();
  }
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, headers);
  res.end(body);
}

class BodyOverLimit extends Error {}

/** The whole body, or a rejection: over `maxBytes` (whatever content-length said), or the client left. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  if (req.method === "GET" || req.method === "HEAD") return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const over = () => new BodyOverLimit(`The request body is over ${maxBytes} bytes`);
    if (Number(req.headers["content-length"] ?? 0) > maxBytes) return reject(over());
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return chunks.push(chunk);
      // The rest flows away unread (bounded by the request timeout); the client gets its 413.
      req.off("data", collect);
      chunks.length = 0;
      reject(over());
    };
    req.on("data", collect);
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
    req.once("close", () => reject(new Error("the client left before its body was read")));
  });
}

/**
 * The body already read, in a form @whatwg-node/server takes as the request's body instead of
 * the (consumed) stream: an async iterable (a Buffer would be walked key by key).
 */
function replayable(body: Buffer): AsyncIterable<Buffer> & { read: "buffered" } {
  return {
    read: "buffered",
    async *[Symbol.asyncIterator]() {
      yield body;
    },
  };
}

/**
 * The yoga side of the gate: GraphQL only at exactly /graphql (yoga would also execute at
 * /graphql/, /x/graphql, //graphql and any URL ending in /graphql), and, for a request from the
 * Node listener, only once it was admitted (a Host header that moves the path yoga sees cannot
 * route around the gate); the slot goes back when the response is ready. `yoga.fetch`
 * (no Node request) is not gated.
 */
export function useAdmittedGraphQL(admission: Admission): Plugin {
  const nodeRequestOf = (serverContext: unknown) => (serverContext as { req?: IncomingMessage } | undefined)?.req;
  return {
    onRequest({ url, serverContext, endResponse, fetchAPI }) {
      const req = nodeRequestOf(serverContext);
      if (url.pathname !== "/graphql" || (req && !admission.isAdmitted(req))) {
        endResponse(new fetchAPI.Response("", { status: 404, statusText: "Not Found" }));
      }
    },
    onResponse({ serverContext }) {
      const req = nodeRequestOf(serverContext);
      if (req) admission.finished(req);
    },
  };
}
