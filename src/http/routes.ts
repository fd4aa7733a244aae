import { sql } from "kysely";
import type { Plugin } from "graphql-yoga";
import type { AppDeps } from "../context.js";

/**
 * The non-GraphQL endpoints, as a yoga plugin so that one fetch handler (and `yoga.fetch` in
 * tests) serves everything:
 * - GET /healthz: the process is up;
 * - GET /readyz: Postgres and SpiceDB both answer (503 otherwise, so a load balancer stops
 *   sending traffic here).
 */
export function useOrgraphRoutes(deps: AppDeps): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === "/healthz") {
        endResponse(fetchAPI.Response.json({ status: "ok" }));
      } else if (url.pathname === "/readyz") {
        const checks = { postgres: await probe(() => sql`select 1`.execute(deps.db)), spicedb: await probe(() => probeSpiceDb(deps)) };
        const ready = checks.postgres && checks.spicedb;
        endResponse(fetchAPI.Response.json({ status: ready ? "ready" : "unavailable", checks }, { status: ready ? 200 : 503 }));
      }
    },
  };
}

async function probeSpiceDb(deps: AppDeps): Promise<void> {
  await deps.authzClient.checkBulk(
    [{ resource: { type: "organization", id: "readyz" }, permission: "view", subject: { type: "user", id: "readyz" } }],
    { kind: "full" },
  );
}

async function probe(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}
