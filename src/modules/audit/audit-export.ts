import type { Principal } from "../../auth/principal.js";
import type { Authorizer } from "../../authz/authorizer.js";
import { ref } from "../../authz/model.js";
import type { Db } from "../../db/database.js";
import { typeOfId } from "../../ids.js";
import { listChainPage } from "./audit.repository.js";

const PAGE = 1000;

/**
 * GET /v1/audit/export?organization=…&since=… for a SIEM: the organization's events in chain
 * order as NDJSON. The body is a stream that reads one page when the client is ready for
 * more, so memory stays constant however long the log.
 */
export async function auditExportResponse(db: Db, authz: Authorizer, principal: Principal | undefined, url: URL): Promise<Response> {
  const json = (body: unknown, status: number) => Response.json(body, { status });
  if (!principal) return json({ error: "Missing or invalid credentials" }, 401);
  const orgId = url.searchParams.get("organization") ?? "";
  if (typeOfId(orgId) !== "Organization") return json({ error: "organization must be an organization id" }, 400);
  const sinceText = url.searchParams.get("since");
  const since = sinceText ? new Date(sinceText) : undefined;
  if (since && Number.isNaN(since.getTime())) return json({ error: "since must be an ISO date-time" }, 400);

  const [visible, allowed] = await Promise.all([authz.can(ref("organization", orgId), "view"), authz.can(ref("organization", orgId), "audit_read_all")]);
  if (!visible) return json({ error: "Not found" }, 404);
  if (!allowed) return json({ error: "Only organization ADMINs export the audit log" }, 403);

  let lastSeq = 0;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const page = await listChainPage(db, orgId, { afterSeq: lastSeq, since, limit: PAGE });
      if (page.length === 0) return controller.close();
      lastSeq = Number(page.at(-1)!.seq);
      controller.enqueue(encoder.encode(page.map((event) => `${JSON.stringify(event)}\n`).join("")));
    },
  });
  return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
}
