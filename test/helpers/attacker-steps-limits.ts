import { KEY_PERMS, type KeyType, type Principal, type Reference } from "./attacker-reference.js";
import type { Attempt, Step } from "./attacker-steps.js";

/**
 * The attacker model's steps for issue 14's limits: setTeamLimits on a team of either
 * organization (or a nonexistent one) needs billing:manage on the team's organization (org
 * ADMIN, BILLING_ADMIN); a caller who views the team but lacks it is FORBIDDEN, one who
 * cannot reach it NOT_FOUND; a limit outside 1..bound is refused. createApiKey with
 * requestsPerMinute is createApiKey: team:manage_keys and what the key type confers, the
 * limit validated alike. Neither grants anything beyond that.
 */
export const LIMITS_OPS = ["setTeamLimits", "createLimitedTeamKey"] as const;
type LimitsOp = (typeof LIMITS_OPS)[number];
export const isLimitsOp = (op: string): op is LimitsOp => (LIMITS_OPS as readonly string[]).includes(op);

const GHOST_TEAM = `team_${"0".repeat(28)}`;
const KEY_TYPES: KeyType[] = ["FULL_ACCESS", "INFERENCE_ONLY", "METRICS_ONLY"];
/** Valid and invalid values of a limit (null removes it; 0, negatives and values past the bound are refused). */
const LIMITS: [number | null, boolean][] = [[1, true], [600, true], [null, true], [0, false], [-3, false], [2_000_000_000, false]];

const pick = <T>(items: T[], index: number): T => items[index % items.length]!;
const decide = (permitted: boolean, valid: boolean): Attempt["allowed"] => (permitted ? (valid ? "yes" : "invalid") : valid ? "no" : "refused");

export function planLimitsOp(step: Step & { op: LimitsOp }, caller: Principal, ref: Reference): Attempt {
  const team = pick([...[...ref.objects.values()].filter((o) => o.kind === "team").map((o) => o.id), GHOST_TEAM], step.object);
  const org = ref.object(team)?.org;
  // As attacker-steps.ts: viewing decides FORBIDDEN, merely browsing may answer either, unseen is NOT_FOUND.
  const visible = ref.permissions(caller, team).has("team:view") ? true : ref.visible(caller, team) ? ("maybe" as const) : false;

  if (step.op === "setTeamLimits") {
    const [rpm, rpmValid] = pick(LIMITS, step.choice);
    const [month, monthValid] = pick(LIMITS, step.choice >> 3);
    // Bit 6 leaves monthlyInvocations out (unchanged).
    const variables = { t: team, r: rpm, ...(step.choice & 64 ? {} : { m: month }) };
    return {
      query: `mutation($t: ID!, $r: Int, $m: Int) { setTeamLimits(teamId: $t, requestsPerMinute: $r, monthlyInvocations: $m) { requestsPerMinute monthlyInvocations } }`,
      variables,
      allowed: decide(!!org && ref.orgPerms(caller, org).has("billing:manage"), rpmValid && (step.choice & 64 ? true : monthValid)),
      target: { variable: "t", id: team, visible, ghost: GHOST_TEAM },
      apply: () => {},
      harmless: true,
    };
  }

  const type = pick(KEY_TYPES, step.choice);
  const [rpm, valid] = pick(LIMITS.filter(([value]) => value !== null), step.choice >> 2);
  return {
    query: `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id requestsPerMinute } secret } }`,
    variables: { i: { name: "limited", teamId: team, type, requestsPerMinute: rpm } },
    allowed: decide(!!ref.object(team) && ref.holdsAll(caller, team, ["team:manage_keys", ...KEY_PERMS[type]]), valid),
    target: { variable: "i.teamId", id: team, visible, ghost: GHOST_TEAM },
    apply: (data) => {
      const key: Principal = { id: data.createApiKey.apiKey.id, kind: "API_KEY", label: `limited-key:${type}`, secret: data.createApiKey.secret, team, keyType: type };
      ref.principals.push(key);
      return [key];
    },
  };
}
