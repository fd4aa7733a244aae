import type { IncomingMessage } from "node:http";
import type { Plugin } from "graphql-yoga";
import type { Config } from "../config.js";
import type { ShedReason } from "../observability/metrics.js";
import { isGraphiQLPageRequest } from "./graphiql.js";

/** Gives a slot back; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  /** Whose place it is (the client address): one client holds at most `maxQueuedPerClient`. */
  client: string;
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
  private readonly placesOf = new Map<string, number>();
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
   * A slot, now or after waiting in line; a refusal when the line is full, when `client`
   * already holds its share of it, or when the wait is over. `leave` is called by the caller
   * when its client has left: the place in line is given up.
   */
  acquire(client = ""): { slot: Promise<Release | ShedReason>; leave: () => void } {
    const now = this.tryAcquire();
    if (now) return { slot: Promise.resolve(now), leave: () => {} };
    const places = this.placesOf.get(client) ?? 0;
    const refusal: ShedReason | undefined = this.waiting.length >= this.limits.maxQueued ? "queue_full" : places >= this.limits.maxQueuedPerClient ? "client_queue_full" : undefined;
    if (refusal) {
      this.onShed(refusal);
      return { slot: Promise.resolve(refusal), leave: () => {} };
    }
    let waiter!: Waiter;
    const slot = new Promise<Release | ShedReason>((resolve) => {
      waiter = {
        client,
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
    this.placesOf.set(client, places + 1);
    return { slot, leave: () => this.remove(waiter) };
  }

  private remove(waiter: Waiter): boolean {
    const index = this.waiting.indexOf(waiter);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    this.left(waiter);
    return true;
  }

  /** `waiter` is out of the line (admitted, timed out or gone): its client's place is free. */
  private left(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const places = (this.placesOf.get(waiter.client) ?? 1) - 1;
    if (places > 0) this.placesOf.set(waiter.client, places);
    else this.placesOf.delete(waiter.client);
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
      this.left(next);
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
