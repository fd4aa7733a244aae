import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type GraphQLResponse, type TestApp } from "./helpers/app.js";
import type { ObjectKind, Principal, Reference } from "./helpers/attacker-reference.js";
import { ghost, OPS, plan, type Attempt, type Step } from "./helpers/attacker-steps.js";
import { buildWorld } from "./helpers/attacker-world.js";

/**
 * The attacker model test (issue 11, "the guard that stays").
 *
 * World (test/helpers/attacker-world.ts): two organizations, each with its default team and
 * a second team, an open and a restricted environment, a model, three chains (the last
 * shared with a VIEWER of the other team) and a custom role holding team:manage_members and
 * team:manage_keys. Principals: signed out; each org's creator; org ADMIN, BILLING_ADMIN and
 * MEMBERs holding each team role; the custom-role holder; team keys of each type, one
 * scoped to an environment and one to a model; a service account. Principals that a step
 * creates (keys, service accounts, users who accept an invitation) join the pool.
 *
 * Each sequence: 3–8 random steps; each step is a granting (or otherwise sensitive)
 * mutation called by a random principal with ids drawn from BOTH organizations and
 * well-formed ids that do not exist. A reference model written from PRODUCT.md and the
 * rules of issue 11 (test/helpers/attacker-reference.ts, attacker-steps.ts) predicts each
 * outcome and records what succeeded. After every step:
 *  (a) no sampled principal (always the caller and the step's subject) holds, per
 *      viewerPermissions, any permission on any object beyond what the reference grants;
 *      a mutation the reference denies must fail;
 *  (b) every secret a response returned authenticates as the caller or as a principal that
 *      very call created (never as someone who already existed);
 *  (c) for every object a sampled principal may not see, viewerPermissions, node, team and
 *      organization answer exactly as for a nonexistent id of the same kind, and a denied
 *      mutation on an invisible target answers exactly as on a nonexistent one;
 *  (d) for the caller, after each step that changed something and after the last: every
 *      list (Organization.teams, Team.chains, Team.models) paged with first: 1 reaches
 *      each visible item exactly once, hasNextPage true until the end, and no visible
 *      team is nulled by a hidden item beneath it.
 * The issue's known attacks (KNOWN_ATTACKS) run first, then random sequences.
 * A failure prints the fast-check seed, the shrunk step list and the property's message,
 * which names the principal (label@world-org), the object and the expected vs actual
 * answer. Steps are indices into the pools (taken modulo), so a shrunk sequence replays.
 * ORGRAPH_LONG_TESTS=1 runs 2,000 sequences instead of 200.
 */
const ANONYMOUS: Principal = { id: "anonymous", kind: "ANONYMOUS", label: "signed-out", secret: "" };
const KINDS: ObjectKind[] = ["org", "team", "env", "model", "chain"];

let app: TestApp;
let world: Reference | undefined;
let dirty = true;

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" } });
});
afterAll(() => app?.close());

// Invitations take two steps (an admin invites, someone accepts): those steps and org admins as callers come more often.
const step: fc.Arbitrary<Step> = fc.record({
  op: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...OPS) }, { weight: 1, arbitrary: fc.constantFrom<Step["op"]>("inviteMember", "acceptInvitation") }),
  caller: fc.oneof({ weight: 3, arbitrary: fc.nat(63) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 6) }),
  object: fc.nat(63),
  principal: fc.nat(63),
  choice: fc.nat(8191),
});

/**
 * Attacks from issue 11, tried first in every run (indices follow buildWorld's order:
 * callers are [signed out, A's creator, A's t1-admin, …]; A's custom-role holder is caller
 * 10, B's creator caller 16; A's t1-admin is principal 1, A's delegate principal 9).
 */
const KNOWN_ATTACKS: [Step[]][] = [
  // Takeover: B's creator invites A's team admin to B, then accepts signed out.
  [[{ op: "inviteMember", caller: 16, object: 1, principal: 1, choice: 1 }, { op: "acceptInvitation", caller: 0, object: 0, principal: 0, choice: 0 }, { op: "renameTeam", caller: 0, object: 0, principal: 0, choice: 0 }]],
  // A void invitation: A's org-admin invites a fresh address as ADMIN, is removed, the invitation is accepted.
  [[{ op: "inviteMember", caller: 6, object: 0, principal: 20, choice: 0 }, { op: "removeMember", caller: 1, object: 0, principal: 5, choice: 0 }, { op: "acceptInvitation", caller: 0, object: 0, principal: 0, choice: 0 }]],
  // Escalation: the holder of team:manage_members (custom role) makes itself team ADMIN.
  [[{ op: "setTeamRole", caller: 10, object: 0, principal: 9, choice: 0 }, { op: "createServiceAccount", caller: 10, object: 0, principal: 0, choice: 0 }, { op: "renameTeam", caller: 10, object: 0, principal: 0, choice: 0 }]],
  // Separation of duties (issue 13): on a run A's creator started, the creator, A's FULL_ACCESS key and B's creator may not decide; A's OPERATOR may.
  [[{ op: "decideChainRun", caller: 1, object: 0, principal: 0, choice: 0 }, { op: "decideChainRun", caller: 5, object: 0, principal: 0, choice: 0 }, { op: "decideChainRun", caller: 16, object: 0, principal: 0, choice: 0 }, { op: "decideChainRun", caller: 9, object: 0, principal: 0, choice: 0 }]],
  // Tool policy (issue 14): the team:manage_members holder, A's FULL_ACCESS key and B's creator may not set A's; A's creator may.
  [[{ op: "setToolPolicy", caller: 10, object: 0, principal: 0, choice: 0 }, { op: "setToolPolicyDocument", caller: 5, object: 0, principal: 0, choice: 0 }, { op: "setPhiRoles", caller: 16, object: 0, principal: 0, choice: 1 }, { op: "setToolPolicy", caller: 1, object: 0, principal: 0, choice: 0 }]],
  // Key rotation (issue 16, C1): the team:manage_keys holder (custom role) may not rotate A's FULL_ACCESS key (principal 4) or A's
  // service account's key (principal 14); A's t1-admin may not rotate the FULL_ACCESS key once it is granted the restricted prod
  // environment (env 1); B's creator and A's creator get NOT_FOUND for A's key and the t1-admin's personal key; the t1-admin rotates its own.
  [[{ op: "rotateApiKey", caller: 10, object: 4, principal: 0, choice: 0 }, { op: "rotateApiKey", caller: 10, object: 14, principal: 0, choice: 0 }, { op: "grantEnvironmentAccess", caller: 1, object: 1, principal: 4, choice: 0 }, { op: "rotateApiKey", caller: 2, object: 4, principal: 0, choice: 2 }, { op: "rotateApiKey", caller: 16, object: 4, principal: 0, choice: 0 }, { op: "rotateApiKey", caller: 1, object: 1, principal: 0, choice: 0 }, { op: "rotateApiKey", caller: 2, object: 1, principal: 0, choice: 2 }]],
  // Key policy: A's t1-admin is FORBIDDEN, B's creator NOT_FOUND, A's creator sets it; a cap of 0 days is refused.
  [[{ op: "setKeyPolicy", caller: 2, object: 0, principal: 0, choice: 8 }, { op: "setKeyPolicy", caller: 16, object: 0, principal: 0, choice: 9 }, { op: "setKeyPolicy", caller: 1, object: 0, principal: 0, choice: 2 }, { op: "setKeyPolicy", caller: 1, object: 0, principal: 0, choice: 4 }]],
  // SSO (issue 16 §1): B's creator, A's team:manage_members holder and A's FULL_ACCESS key may not connect A's IdP or map its groups; A's creator may.
  [[{ op: "setSsoConnection", caller: 16, object: 0, principal: 0, choice: 1 }, { op: "setSsoGroupMapping", caller: 10, object: 0, principal: 0, choice: 8 }, { op: "setSsoConnection", caller: 5, object: 0, principal: 0, choice: 1 }, { op: "deleteSsoGroupMapping", caller: 16, object: 0, principal: 0, choice: 0 }, { op: "setSsoConnection", caller: 1, object: 0, principal: 0, choice: 1 }, { op: "setSsoGroupMapping", caller: 1, object: 0, principal: 0, choice: 8 }]],
];

describe("an attacker with any account, or none, gets nothing its roles do not grant", () => {
  it("random principals of two organizations call granting mutations with each other's ids: (a) (b) (c) (d) hold after every step", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 8 }), async (steps) => {
        // A world no mutation has changed is reused; any success makes the next sequence build a new one.
        if (dirty || !world) world = await buildWorld(app);
        dirty = false;
        const ref = world;
        for (const [index, s] of steps.entries()) {
          const caller = pick([ANONYMOUS, ...ref.principals], s.caller);
          const attempt = plan(s, caller, ref);
          const context = `${s.op} by ${caller.label} ${JSON.stringify(attempt.variables)}`;
          const result = await app.gql(caller.secret || undefined, attempt.query, attempt.variables);
          const changed = !result.errors?.length;
          const created = await checkOutcome(ref, caller, attempt, result, context);
          const sample = unique([caller, attempt.subject, ...created, pick(ref.principals, s.object + s.principal)]);
          for (const p of sample) await checkPermissions(ref, p, context);
          // Paging answers change only with the state: checked after a change, and at the end.
          if (changed || index === steps.length - 1) await checkPaging(ref, caller, context);
        }
      }),
      { examples: KNOWN_ATTACKS, numRuns: process.env.ORGRAPH_LONG_TESTS ? 2000 : 200 },
    );
  }, 1_800_000);
});

/** Properties (a), (b) and (c) for the step itself; records its effect; returns the principals it created. */
async function checkOutcome(ref: Reference, caller: Principal, attempt: Attempt, result: GraphQLResponse, context: string): Promise<Principal[]> {
  const failed = !!result.errors?.length;
  if (!failed) {
    if (!attempt.harmless) dirty = true;
    const denied = attempt.allowed === "no" || attempt.allowed === "refused";
    const existing = new Set(ref.principals.map((p) => p.id));
    const created = denied ? [] : (attempt.apply(result.data as Record<string, any>, ref) ?? []);
    // (b) first: a denied call that hands out someone else's credential is reported as such.
    await checkCredentials(result.data, caller, existing, denied, context);
    expect(attempt.allowed, `(a) ${context} succeeded although the reference denies it`).not.toBe("no");
    expect(attempt.allowed, `(a) ${context} succeeded although the reference denies it (and holds it invalid)`).not.toBe("refused");
    expect(attempt.allowed, `(a) ${context} succeeded although the reference holds it invalid`).not.toBe("invalid");
    return created;
  }
  expect(attempt.allowed, `${context} failed (${show(result)}) although the reference allows it`).not.toBe("yes");
  const target = attempt.target;
  if (caller.kind === "ANONYMOUS" && attempt.allowed !== "invalid") expect(codes(result), `(c) ${context}`).toEqual(["UNAUTHENTICATED"]);
  else if (target && target.visible === false) expect(codes(result), `(c) ${context}: the target is invisible to the caller`).toEqual(["NOT_FOUND"]);
  else if (target && target.visible === true && attempt.allowed === "no") expect(codes(result), `${context}: a visible target is FORBIDDEN`).toEqual(["FORBIDDEN"]);
  // Invisible equals nonexistent: the same call on a ghost id answers the same.
  for (const swap of [target, attempt.other]) {
    if (!swap || swap.visible !== false || swap.id === swap.ghost) continue;
    const twin = await app.gql(caller.secret || undefined, attempt.query, replace(attempt.variables, swap.variable, swap.ghost));
    expect(normalize(result, swap.id), `(c) ${context}: ${swap.variable} invisible vs nonexistent`).toBe(normalize(twin, swap.ghost));
  }
  return [];
}

/** (b): every secret in the response authenticates as the caller or as a principal this call created. */
async function checkCredentials(data: unknown, caller: Principal, existing: Set<string>, denied: boolean, context: string): Promise<void> {
  for (const secret of secretsIn(data)) {
    const whoami = await app.ok(secret, `{ viewer { principal { id kind } } }`);
    const id = whoami.viewer.principal.id as string;
    // A principal absent before the call was created by it (a denied creation is property (a)'s).
    const fresh = !existing.has(id);
    // A key for an existing service account, or a rotated key's new secret, passed the reference's no-escalation check already (a).
    const account = (context.startsWith("createServiceAccountKey") || context.startsWith("rotateApiKey")) && !denied;
    expect(id === caller.id || fresh || account, `(b) ${context} returned a credential of ${id}, neither the caller nor created by the call`).toBe(true);
  }
}

/** (a) and (c) for one principal over every object of both organizations and a ghost of each kind. */
async function checkPermissions(ref: Reference, p: Principal, context: string): Promise<void> {
  const ids = [...ref.objects.keys(), ...KINDS.map(ghost)];
  const permissions = ids.map((id, i) => `v${i}: viewerPermissions(on: "${id}")`);
  // viewerPermissions is non-null: one error nulls `data`, so errors are read first, then the rest re-asked.
  const first = await app.gql(p.secret || undefined, `{ ${permissions.join(" ")} }`);
  const failed = new Set((first.errors ?? []).map((e) => String(e.path?.[0])));
  const lookups = ids.flatMap((id, i) => {
    const kind = ref.object(id)?.kind ?? KINDS[i - ref.objects.size]!;
    return [`n${i}: node(id: "${id}") { id }`, ...(kind === "team" ? [`t${i}: team(id: "${id}") { id }`] : kind === "org" ? [`o${i}: organization(id: "${id}") { id }`] : [])];
  });
  const second = await app.gql(p.secret || undefined, `{ ${permissions.filter((_, i) => !failed.has(`v${i}`)).join(" ")} ${lookups.join(" ")} }`);
  const answer = (alias: string, id: string) => {
    const error = [...(first.errors ?? []), ...(second.errors ?? [])].find((e) => e.path?.[0] === alias);
    return error ? { error: error.extensions?.code, message: error.message.replaceAll(id, "<id>") } : { data: second.data?.[alias] ?? null };
  };
  for (const [i, id] of ids.entries()) {
    const object = ref.object(id);
    const who = `${p.label} on ${object?.kind ?? "ghost"} ${id} (after ${context})`;
    const held: string[] = (answer(`v${i}`, id) as { data?: string[] }).data ?? [];
    const granted = ref.permissions(p, id);
    expect(held.filter((x) => !granted.has(x)), `(a) ${who} holds more than the reference grants`).toEqual([]);
    if (!object || ref.visible(p, id)) continue;
    const twin = ids.indexOf(ghost(object.kind));
    for (const prefix of ["v", "n", ...(object.kind === "team" ? ["t"] : object.kind === "org" ? ["o"] : [])]) {
      const mine = answer(`${prefix}${i}`, id);
      const theirs = answer(`${prefix}${twin}`, ghost(object.kind));
      expect(JSON.stringify(mine), `(c) ${who}: ${prefix === "v" ? "viewerPermissions" : prefix === "n" ? "node" : prefix === "t" ? "team" : "organization"} must answer as for a nonexistent id`).toBe(JSON.stringify(theirs));
    }
  }
}

/** (d): lists paged one by one reach every visible item once; no hidden item nulls a visible team. */
async function checkPaging(ref: Reference, p: Principal, context: string): Promise<void> {
  if (p.kind === "ANONYMOUS") return;
  const key = p.secret;
  for (const org of [...ref.objects.values()].filter((o) => o.kind === "org" && ref.permissions(p, o.id).has("org:view"))) {
    const teams = await page(key, org.id, "organization", "teams", context);
    const viewable = ref.teamsOf(org.id).filter((t) => ref.permissions(p, t).has("team:view"));
    expect(viewable.filter((t) => !teams.includes(t)), `(d) ${p.label}: Organization.teams misses teams it may view (after ${context})`).toEqual([]);
    expect(teams.filter((t) => !ref.visible(p, t)), `(a) ${p.label}: Organization.teams lists teams it may not see (after ${context})`).toEqual([]);
  }
  // Teams the caller views, or holds a chain of: keys without team:view only call its models.
  const chainIn = (team: string) => [...ref.objects.values()].some((o) => o.kind === "chain" && o.team === team && ref.permissions(p, o.id).has("chain:view"));
  for (const team of [...ref.objects.values()].filter((o) => o.kind === "team" && (ref.permissions(p, o.id).has("team:view") || chainIn(o.id)))) {
    const nested = await app.gql(key, `query($t: ID!) { team(id: $t) { id environments { id grantees { id } } } }`, { t: team.id });
    expect({ team: nested.data?.team?.id ?? null, errors: codes(nested) }, `(d) ${p.label}: team ${team.id} nulled by something beneath it (after ${context})`).toEqual({ team: team.id, errors: [] });
    for (const [list, kind, permission] of [["chains", "chain", "chain:view"], ["models", "model", "model:view"]] as const) {
      const items = await page(key, team.id, "team", list, context);
      const expected = [...ref.objects.values()].filter((o) => o.kind === kind && o.team === team.id && ref.permissions(p, o.id).has(permission)).map((o) => o.id);
      expect(items.sort(), `(d) ${p.label}: Team.${list} of ${team.id} paged by one (after ${context})`).toEqual(expected.sort());
    }
  }
}

/** Pages `parent(id).list` with first: 1; checks hasNextPage and duplicates; returns the ids in order. */
async function page(key: string, id: string, parent: "organization" | "team", list: string, context: string): Promise<string[]> {
  const seen: string[] = [];
  let after: string | null = null;
  for (let round = 0; round < 20; round++) {
    const result: GraphQLResponse = await app.gql(key, `query($id: ID!, $after: String) { ${parent}(id: $id) { ${list}(first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`, { id, after });
    const connection: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } = result.data?.[parent]?.[list];
    expect(connection, `(d) ${parent}.${list} of ${id} gave ${show(result)} (after ${context})`).toBeTruthy();
    const ids = connection.edges.map((e: { node: { id: string } }) => e.node.id);
    if (connection.pageInfo.hasNextPage) expect(ids.length, `(d) ${parent}.${list} of ${id}: an empty page says hasNextPage (after ${context})`).toBe(1);
    seen.push(...ids);
    if (!connection.pageInfo.hasNextPage) break;
    after = connection.pageInfo.endCursor;
  }
  const all = await app.gql(key, `query($id: ID!) { ${parent}(id: $id) { ${list}(first: 100) { edges { node { id } } } } }`, { id });
  const everything = (all.data?.[parent]?.[list]?.edges ?? []).map((e: { node: { id: string } }) => e.node.id);
  expect(seen, `(d) ${parent}.${list} of ${id}: paging by one reaches each item of the full list exactly once (after ${context})`).toEqual(everything);
  return seen;
}

function secretsIn(data: unknown): string[] {
  if (!data || typeof data !== "object") return [];
  return Object.entries(data).flatMap(([k, v]) => (k === "secret" && typeof v === "string" ? [v] : secretsIn(v)));
}

const pick = <T>(items: T[], index: number): T => items[index % items.length]!;
const unique = (items: (Principal | undefined)[]) => [...new Map(items.filter((p): p is Principal => !!p).map((p) => [p.id, p])).values()];
const codes = (result: GraphQLResponse) => (result.errors ?? []).map((e) => e.extensions?.code);
const show = (result: GraphQLResponse) => JSON.stringify(result.errors ?? result.data).slice(0, 300);
const normalize = (result: GraphQLResponse, id: string) =>
  JSON.stringify({ data: result.data ?? null, errors: (result.errors ?? []).map((e) => ({ code: e.extensions?.code, message: e.message.replaceAll(id, "<id>") })) });

function replace(variables: Record<string, unknown>, path: string, value: string): Record<string, unknown> {
  const [head, ...rest] = path.split(".");
  return { ...variables, [head!]: rest.length ? replace(variables[head!] as Record<string, unknown>, rest.join("."), value) : value };
}
