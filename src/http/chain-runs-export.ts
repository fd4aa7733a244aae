import { routeCaller } from "./route-caller.js";
import type { JwtVerifier } from "../auth/jwt.js";
import type { AppDeps } from "../context.js";
import { errorCode } from "../errors.js";
import { chainRunsExport } from "../modules/chain/chain-run-export.js";

const PATH = /^\/v1\/chains\/([^/]+)\/runs\/export$/;

export const isChainRunsExportPath = (pathname: string) => PATH.test(pathname);

/**
 * GET /v1/chains/{chainId}/runs/export: the chain's runs with their results as NDJSON
 * (modules/chain/chain-run-export.ts), authenticated as GraphQL and /v1/audit/export are.
 * Missing or bad credentials: 401. Without results:export on the chain, and for a malformed
 * or nonexistent chain id: the same 404, so the answer never tells a chain exists.
 */
export async function chainRunsExportResponse(
  deps: AppDeps,
  jwt: JwtVerifier | undefined,
  request: Request,
  pathname: string,
  clientIp: string | undefined,
): Promise<Response> {
  const json = (body: unknown, status: number) => Response.json(body, { status });
  if (request.method !== "GET") return json({ error: "Use GET" }, 405);
  const caller = await routeCaller(deps, jwt, request, clientIp);
  if (caller instanceof Response) return caller;
  let chainId: string;
  try {
    chainId = decodeURIComponent(PATH.exec(pathname)![1]!);
  } catch {
    chainId = "";
  }
  try {
    const body = await chainRunsExport(deps.db, caller.authz, chainId);
    if (!body) return json({ error: "Not found" }, 404);
    return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
  } catch (error) {
    if (errorCode(error) === "AUTHZ_UNAVAILABLE") return json({ error: "Authorization is unavailable" }, 503);
    throw error;
  }
}
