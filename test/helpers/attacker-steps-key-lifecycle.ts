import { KEY_PERMS, type Principal, type Reference } from "./attacker-reference.js";
import type { Attempt, Step } from "./attacker-steps.js";

/**
 * The attacker model's steps for issue 16 §3, key lifecycle.
 *
 * rotateApiKey hands its caller the key's new secret, so the reference allows it exactly as
 * creating that key: a personal key by its owner alone (nobody else sees it: NOT_FOUND, as a
 * nonexistent key); a team key by a holder of team:manage_keys (who sees it) who also holds
 * what its type confers and everything the key holds on its team and environments; a
 * service account's key by a holder of team:manage_keys who holds everything the account
 * holds. A grace outside 0..604800 is refused. A success gives the key's principal its new
 * secret (the old one, with grace 0, is dead), and changes nobody's permissions.
 *
 * setKeyPolicy: org:manage (org ADMIN) on the organization; maxLifetimeDays outside 1..3650
 * is refused. requireExpiry: true is sent only by callers the reference refuses: a success
 * would bind the later steps' keys, which this model does not track (key-lifecycle.test.ts does).
 */
export const KEY_LIFECYCLE_OPS = ["rotateApiKey", "setKeyPolicy"] as const;
type KeyLifecycleOp = (typeof KEY_LIFECYCLE_OPS)[number];
export const isKeyLifecycleOp = (op: string): op is KeyLifecycleOp => (KEY_LIFECYCLE_OPS as readonly string[]).includes(op);

const GHOST_KEY = `key_${"0".repeat(28)}`;
const GHOST_ORG = `org_${"0".repeat(28)}`;
/** Grace periods, valid and not. */
const GRACES: [number | null, boolean][] = [[null, true], [0, true], [60, true], [604_800, true], [-1, false], [604_801, false]];
/** Lifetime caps, valid and not. */
const LIFETIMES: [number | null, boolean][] = [[null, true], [1, true], [365, true], [3650, true], [0, false], [-2, false], [3651, false]];

const pick = <T>(items: T[], index: number): T => items[index % items.length]!;
const decide = (permitted: boolean, valid: boolean): Attempt["allowed"] => (permitted ? (valid ? "yes" : "invalid") : valid ? "no" : "refused");

export function planKeyLifecycleOp(step: Step & { op: KeyLifecycleOp }, caller: Principal, ref: Reference): Attempt {
  if (step.op === "setKeyPolicy") {
    const org = pick([...[...ref.objects.values()].filter((o) => o.kind === "org").map((o) => o.id), GHOST_ORG], step.object);
    const [days, valid] = pick(LIFETIMES, step.choice);
    const permitted = !!ref.object(org) && ref.orgPerms(caller, org).has("org:manage");
    // Members view it (FORBIDDEN); keys and service accounts only browse it, as the other org-scoped steps say.
    const viewing = caller.kind === "USER" && ref.orgRole.has(`${org}|${caller.id}`);
    const visible = viewing ? true : ref.visible(caller, org) ? ("maybe" as const) : false;
    return {
      query: `mutation($o: ID!, $m: Int, $r: Boolean!) { setKeyPolicy(organizationId: $o, maxLifetimeDays: $m, requireExpiry: $r) { id keyPolicy { maxLifetimeDays } } }`,
      variables: { o: org, m: days, r: !permitted && (step.choice & 8) !== 0 },
      allowed: decide(permitted, valid),
      target: { variable: "o", id: org, visible, ghost: GHOST_ORG },
      apply: () => {},
      harmless: true,
    };
  }

  const keys = ref.principals.filter((p) => p.kind === "API_KEY" || p.keyId);
  const owner = pick([...keys, undefined], step.object);
  const keyId = owner ? (owner.kind === "API_KEY" ? owner.id : owner.keyId!) : GHOST_KEY;
  const [grace, valid] = pick(GRACES, step.choice);
  let visible = false;
  let permitted = false;
  if (owner?.kind === "USER") {
    visible = permitted = caller.kind === "USER" && caller.id === owner.id;
  } else if (owner) {
    const team = owner.team!;
    visible = ref.holdsAll(caller, team, ["team:manage_keys"]);
    const mine = ref.everything(caller, team);
    const dominates = [...ref.everything(owner, team)].every((x) => mine.has(x));
    permitted = visible && dominates && (owner.kind !== "API_KEY" || ref.holdsAll(caller, team, KEY_PERMS[owner.keyType!]));
  }
  return {
    query: `mutation($k: ID!, $g: Int) { rotateApiKey(id: $k, graceSeconds: $g) { apiKey { id } secret } }`,
    variables: { k: keyId, g: grace },
    allowed: decide(permitted, valid),
    target: { variable: "k", id: keyId, visible, ghost: GHOST_KEY },
    subject: owner,
    apply: (data) => {
      // The key's principal calls with its new secret from now on.
      owner!.secret = data.rotateApiKey.secret;
    },
    harmless: true,
  };
}
