import { generateKeyPairSync } from "node:crypto";
import type { Attempt, Step } from "./attacker-steps.js";

/**
 * The attacker model's SSO steps (issue 16 §1): setSsoConnection, setSsoGroupMapping and
 * deleteSsoGroupMapping on an organization of either world organization or a nonexistent one.
 * All three need org:manage (org ADMINs; a person for the connection). Nobody's permissions
 * change until someone signs in through the connection (test/sso.test.ts), so they are harmless
 * here. Invalid variants: a connection with neither key source; a mapping naming a team of the
 * other organization (or a nonexistent one).
 */
export const SSO_OPS = ["setSsoConnection", "setSsoGroupMapping", "deleteSsoGroupMapping"] as const;
export const isSsoOp = (op: string): op is (typeof SSO_OPS)[number] => (SSO_OPS as readonly string[]).includes(op);

const PEM = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();
const ORG_ROLES = ["ADMIN", "BILLING_ADMIN", "MEMBER", null] as const;
const TEAM_ROLES = ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const;

type Target = NonNullable<Attempt["target"]>;

export function planSsoStep(
  step: Step & { op: (typeof SSO_OPS)[number] },
  org: { target: Target; manages: boolean },
  team: { id: string; inOrg: boolean },
  decide: (permitted: boolean, valid: boolean) => Attempt["allowed"],
): Attempt {
  const o = org.target.id;
  const common = { target: { ...org.target, variable: "o" }, apply: () => {}, harmless: true };
  const group = `group-${step.choice % 3}`;
  if (step.op === "setSsoConnection") {
    const valid = step.choice % 3 !== 0;
    return {
      query: `mutation($o: ID!, $i: String!, $p: String) { setSsoConnection(organizationId: $o, issuer: $i, audience: "orgraph", publicKeyPem: $p) { id } }`,
      // One issuer per organization: two organizations never contend for the same (a CONFLICT, tested in sso.test.ts).
      variables: { o, i: `https://idp.${o}.test/`, p: valid ? PEM : null },
      allowed: decide(org.manages, valid),
      ...common,
    };
  }
  if (step.op === "deleteSsoGroupMapping") {
    return { query: `mutation($o: ID!, $g: String!) { deleteSsoGroupMapping(organizationId: $o, group: $g) }`, variables: { o, g: group }, allowed: decide(org.manages, true), ...common };
  }
  const withTeam = step.choice % 2 === 0;
  const teams = withTeam ? [{ teamId: team.id, role: TEAM_ROLES[(step.choice >> 1) % 4]! }] : [];
  return {
    query: `mutation($o: ID!, $g: String!, $r: OrgRole, $t: [TeamRoleInput!]) { setSsoGroupMapping(organizationId: $o, group: $g, orgRole: $r, teams: $t) { group } }`,
    variables: { o, g: group, r: ORG_ROLES[(step.choice >> 3) % 4], t: teams },
    // An org ADMIN holds every permission of every role in its organization: no-escalation never refuses one here.
    allowed: decide(org.manages, !withTeam || team.inOrg),
    ...common,
  };
}
