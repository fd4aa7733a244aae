import type { Workload } from "./seed.js";

/**
 * The gateway's policies of issue 14, all active at once for "B3 with policies": an IP
 * allowlist on the organization and a narrower one on every team, a tool policy for the
 * gateway keys' role (their key type) on every team, and limits on every team high enough
 * that the benchmark never meets them (a 429 would end it: every answer must be a success).
 * Set and cleared through GraphQL by the organization's ADMIN, as a user would.
 */
const GATEWAY_ADDRESS = "203.0.113.7";

export function policyAuthorizeBody(model: string, environment: string): string {
  return JSON.stringify({ action: "invoke", model, environment, clientIp: GATEWAY_ADDRESS, tool: "report_weekly", sensitivity: "INTERNAL" });
}

export async function setPolicies(url: string, workload: Workload, on: boolean): Promise<void> {
  // The admin's own address (127.0.0.1) stays in the lists: setIpAllowlist refuses to lock its caller out.
  await graphql(url, workload.adminKey, `mutation($s: ID!, $c: [String!]!) { setIpAllowlist(scopeId: $s, cidrs: $c) }`, {
    s: workload.orgId,
    c: on ? ["127.0.0.0/8", "::1/128", "203.0.113.0/24", "198.51.100.0/24"] : [],
  });
  for (const teamId of workload.teamIds) {
    await graphql(url, workload.adminKey, `mutation($s: ID!, $c: [String!]!) { setIpAllowlist(scopeId: $s, cidrs: $c) }`, {
      s: teamId,
      c: on ? ["127.0.0.0/8", "203.0.113.0/24"] : [],
    });
    await graphql(url, workload.adminKey, `mutation($t: ID!, $r: Int, $m: Int) { setTeamLimits(teamId: $t, requestsPerMinute: $r, monthlyInvocations: $m) { requestsPerMinute } }`, {
      t: teamId,
      r: on ? 1_000_000 : null,
      m: on ? 1_000_000_000 : null,
    });
    if (on) {
      await graphql(
        url,
        workload.adminKey,
        `mutation($t: ID!) { setToolPolicy(teamId: $t, role: "INFERENCE_ONLY", allowedTools: ["search", "report_*"], deniedTools: ["report_secret*"], maxSensitivity: CONFIDENTIAL) { role } }`,
        { t: teamId },
      );
    } else {
      await graphql(url, workload.adminKey, `mutation($t: ID!) { deleteToolPolicy(teamId: $t, role: "INFERENCE_ONLY") }`, { t: teamId });
    }
  }
}

async function graphql(url: string, key: string, query: string, variables: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { errors?: unknown[] };
  if (body.errors) throw new Error(`setting the bench policies failed: ${JSON.stringify(body.errors).slice(0, 400)}`);
}
