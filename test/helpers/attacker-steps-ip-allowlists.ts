import type { Attempt, Step } from "./attacker-steps.js";

/**
 * The attacker model's IP allowlist step (issue 14): setIpAllowlist on an organization (org:manage:
 * org ADMINs) or a team (team#manage: built-in team ADMINs, org ADMINs), of both organizations or
 * a nonexistent one. The list is empty (lifts nothing: harmless), or one the service must refuse
 * even to whoever may set it: a CIDR that excludes the caller's own address (the lock-out guard:
 * the test app's requests come from 127.0.0.1 or from no known address at all), or a malformed one.
 */
export const IP_ALLOWLIST_OPS = ["setIpAllowlist"] as const;
export const isIpAllowlistOp = (op: string): op is (typeof IP_ALLOWLIST_OPS)[number] => (IP_ALLOWLIST_OPS as readonly string[]).includes(op);

type Target = NonNullable<Attempt["target"]>;

export function planSetIpAllowlist(
  step: Step,
  scopes: { org: { target: Target; manages: boolean }; team: { target: Target; manages: boolean } },
  decide: (permitted: boolean, valid: boolean) => Attempt["allowed"],
): Attempt {
  const scope = step.choice % 2 === 0 ? scopes.org : scopes.team;
  const cidrs = [[], ["10.0.0.0/8"], ["not-a-cidr"]][(step.choice >> 1) % 3]!;
  return {
    query: `mutation($s: ID!, $c: [String!]!) { setIpAllowlist(scopeId: $s, cidrs: $c) }`,
    variables: { s: scope.target.id, c: cidrs },
    allowed: decide(scope.manages, cidrs.length === 0),
    target: { ...scope.target, variable: "s" },
    apply: () => {},
    harmless: true,
  };
}
