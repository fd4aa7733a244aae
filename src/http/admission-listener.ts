import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { BlockList, Socket } from "node:net";
import { requestIdFrom, tagServerSpan } from "../observability/request-id.js";
import { type Admission, isGatedRequest } from "./admission.js";
import { clientAddressOf } from "./client-address.js";

const OVERLOADED = JSON.stringify({ errors: [{ message: "The server is at capacity: retry shortly", extensions: { code: "OVERLOADED" } }] });

/**
 * The admission gate in front of yoga's Node listener. For a GraphQL request:
 * 1. the body is read first, bounded by MAX_BODY_BYTES (413 past it, and the connection
 *    closed: the rest of the body is not drained), without a slot, so a client sending slowly
 *    holds nothing but its own connection (the server's request timeout ends it);
 * 2. it waits for its turn on its connection: requests pipelined on one connection take a slot
 *    one after the other (each once the one before has given its slot back or was refused), so
 *    one connection holds at most one slot or place in line, and while waiting, nothing;
 * 3. a slot is taken, or the request waits in line (one client address holds at most
 *    GRAPHQL_MAX_QUEUED_PER_CLIENT places, by the trusted-proxy rule of client-address.ts), or
 *    it is refused (503 OVERLOADED, Retry-After); a client that leaves gives up its place and
 *    its connection's later turns;
 * 4. the slot goes back exactly once, when the work is done: yoga produced the response
 *    (useAdmittedGraphQL), the handler settled or the response finished, whichever is first.
 *    A client that disconnects does not free it while its request is still executing (its
 *    work still occupies the server); a pipelined request whose connection closed before its
 *    response began frees it as soon as yoga is done with it, although its response never
 *    'close's.
 * The gate's own answers carry X-Request-Id and the CORS headers yoga would send.
 * Every other request (health, readiness, metrics, the gateway, AuthZEN, exports, CORS
 * preflight, the GraphiQL page) passes straight through.
 */
export function withGraphqlAdmission(next: RequestListener, admission: Admission, options: { maxBodyBytes: number; trustedProxies: BlockList | undefined }): RequestListener {
  return (req, res) => {
    if (!isGatedRequest(req)) return next(req, res);
    // Taken at once, so that the connection's requests keep their order whatever their bodies.
    const turn = takeTurn(req.socket);
    readBody(req, options.maxBodyBytes).then(
      (body) => {
        if (body && body.length > 0) (req as IncomingMessage & { body?: unknown }).body = replayable(body);
        const forwarded = req.headers["x-forwarded-for"];
        const client = clientAddressOf({ req }, Array.isArray(forwarded) ? forwarded.join(",") : (forwarded ?? null), options.trustedProxies) ?? "";
        return admitAndServe(next, admission, req, res, client, turn);
      },
      (error: unknown) => {
        void turn.ready.then(turn.done);
        if (!(error instanceof BodyOverLimit)) return; // the client went away mid-body: nobody to answer
        // The connection ends after the 413 (Node closes it once the response is sent): the
        // rest of the body is not read until the request timeout.
        send(req, res, 413, { "content-type": "application/json; charset=utf-8", connection: "close" }, JSON.stringify({ errors: [{ message: error.message, extensions: { code: "BAD_USER_INPUT" } }] }));
      },
    );
  };
}

/** A connection's GraphQL requests: the turn of its latest, and what its close undoes. */
interface Connection {
  /** Settles when the latest request has given its slot back (or was refused, or never took one). */
  tail: Promise<void>;
  /** Called when the connection closes: places in line given up, waiting turns passed on. */
  onClose: Set<() => void>;
}
const connections = new WeakMap<Socket, Connection>();

function connectionOf(socket: Socket): Connection {
  let connection = connections.get(socket);
  if (!connection) {
    const created: Connection = { tail: Promise.resolve(), onClose: new Set() };
    connections.set(socket, (connection = created));
    // One listener per connection, however many requests are pipelined on it.
    socket.once("close", () => {
      for (const undo of created.onClose) undo();
      created.onClose.clear();
    });
  }
  return connection;
}

interface Turn {
  /** The request before it on its connection is done. */
  ready: Promise<void>;
  /** This one is done: the next may take a slot (idempotent). */
  done: () => void;
}

function takeTurn(socket: Socket): Turn {
  const connection = connectionOf(socket);
  const ready = connection.tail;
  let pass!: () => void;
  connection.tail = new Promise<void>((resolve) => (pass = resolve));
  const done = () => {
    connection.onClose.delete(done);
    pass();
  };
  // A closed connection serves nothing more: its waiting requests see it destroyed and stop.
  connection.onClose.add(done);
  return { ready, done };
}

async function admitAndServe(next: RequestListener, admission: Admission, req: IncomingMessage, res: ServerResponse, client: string, turn: Turn): Promise<void> {
  await turn.ready;
  const socket = req.socket;
  if (socket.destroyed) return turn.done();
  const { slot, leave } = admission.acquire(client);
  const { onClose } = connectionOf(socket);
  onClose.add(leave);
  const outcome = await slot;
  onClose.delete(leave);
  if (typeof outcome === "string") {
    send(req, res, 503, { "content-type": "application/json; charset=utf-8", "retry-after": "1" }, OVERLOADED);
    return turn.done();
  }
  const release = () => {
    outcome();
    turn.done();
  };
  if (socket.destroyed) return release();
  admission.admit(req, release);
  res.once("finish", release);
  try {
    await (next(req, res) as unknown);
  } finally {
    release();
  }
}

/**
 * The gate's own answer, with what yoga adds to its answers: the request's id (as the gateway's
 * fast path makes it) and yoga's default CORS headers (its `cors` is not configured in app.ts:
 * any Origin is echoed, with credentials). Retry-After is exposed so a browser can read it.
 */
function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent || res.destroyed) return;
  const header = req.headers["x-request-id"];
  const requestId = requestIdFrom(typeof header === "string" ? header : undefined);
  tagServerSpan(requestId);
  const origin = req.headers.origin;
  const cors: Record<string, string> = origin ? { "access-control-allow-origin": origin, vary: "Origin", "access-control-allow-credentials": "true" } : {};
  if (origin && headers["retry-after"]) cors["access-control-expose-headers"] = "Retry-After";
  res.writeHead(status, { ...headers, ...cors, "x-request-id": requestId });
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
      // The client gets its 413, and the connection is closed after it (no draining).
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
