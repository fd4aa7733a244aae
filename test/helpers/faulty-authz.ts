import type { AuthzClient } from "../../src/authz/client.js";

/**
 * Wraps the real SpiceDB client so a test can make it fail at a chosen step:
 * - write "before": the write never reaches SpiceDB;
 * - write "after": SpiceDB applies it, then the call fails (a lost acknowledgement);
 * - reads: every check and lookup fails (SpiceDB unreachable).
 */
export class FaultyAuthz implements AuthzClient {
  write_: "ok" | "before" | "after" = "ok";
  reads: "ok" | "fail" = "ok";
  inner!: AuthzClient;

  wrap = (client: AuthzClient): AuthzClient => {
    this.inner = client;
    return this;
  };

  heal(): void {
    this.write_ = "ok";
    this.reads = "ok";
  }

  writeSchema(schema: string) {
    return this.inner.writeSchema(schema);
  }

  async write(updates: Parameters<AuthzClient["write"]>[0]) {
    if (this.write_ === "before") throw new Error("injected: SpiceDB unreachable before the write");
    const token = await this.inner.write(updates);
    if (this.write_ === "after") throw new Error("injected: SpiceDB applied the write, the answer was lost");
    return token;
  }

  checkBulk(...args: Parameters<AuthzClient["checkBulk"]>) {
    if (this.reads === "fail") return Promise.reject(new Error("injected: SpiceDB unreachable"));
    return this.inner.checkBulk(...args);
  }

  checkWithTrace(...args: Parameters<AuthzClient["checkWithTrace"]>) {
    if (this.reads === "fail") return Promise.reject(new Error("injected: SpiceDB unreachable"));
    return this.inner.checkWithTrace(...args);
  }

  lookupResources(...args: Parameters<AuthzClient["lookupResources"]>) {
    if (this.reads === "fail") return Promise.reject(new Error("injected: SpiceDB unreachable"));
    return this.inner.lookupResources(...args);
  }

  readRelationships(type: string) {
    return this.inner.readRelationships(type);
  }

  close() {
    this.inner.close();
  }
}
