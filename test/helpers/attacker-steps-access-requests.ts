import { roleHolds, type Principal, type Reference, type TeamRole } from "./attacker-reference.js";
import type { Attempt, Step } from "./attacker-steps.js";

/**
 * The attacker model's just-in-time access steps (issue 16 §4). requestAccess: a grant on an
 * environment or a team role, on objects of both organizations or a nonexistent one; only a
 * person of the scope's organization who sees it may ask (keys and service accounts: FORBIDDEN
 * where they see the scope), and never for what they hold. approveAccessRequest and
 * denyAccessRequest: on the requests made so far (or a nonexistent one); only whoever could
 * grant it directly (addTeamMember's / grantEnvironmentAccess's gates and no-escalation rules),
 * never the requester. A permitted request or decision may still be refused for a reason the
 * reference does not track (a duplicate pending request, the pending bound, a request decided
 * already, a grant the requester meanwhile holds for good): "either". An approved environment
 * grant is recorded as grantEnvironmentAccess's is (it lasts an hour: longer than any run); a
 * permitted approval of a team role is played as a denial, since the reference holds one team
 * role per principal and a temporary second one would blur it (test/access-requests.test.ts
 * covers those approvals).
 */
export const ACCESS_REQUEST_OPS = ["requestAccess", "approveAccessRequest", "denyAccessRequest"] as const;
export const isAccessRequestOp = (op: string): op is (typeof ACCESS_REQUEST_OPS)[number] => (ACCESS_REQUEST_OPS as readonly string[]).includes(op);

type Target = NonNullable<Attempt["target"]>;
interface Requested { id: string; requester: string; org: string; team: string; env?: string; role?: TeamRole; decided: boolean }

/** The requests made in each world. */
const REQUESTS = new WeakMap<Reference, Requested[]>();
const requestsOf = (ref: Reference) => REQUESTS.get(ref) ?? REQUESTS.set(ref, []).get(ref)!;
const TEAM_ROLES: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"];
const GHOST_REQUEST = `areq_${"0".repeat(28)}`;

export interface AccessRequestHelpers {
  objectOf: (kind: "team" | "env") => string;
  visible: (id: string) => boolean | "maybe";
  holds: (team: string, perms: Iterable<string>) => boolean;
  inOrg: (p: Principal | undefined, org: string | undefined) => boolean;
  ghost: (kind: "team" | "env") => string;
}

export function planAccessRequestStep(step: Step, caller: Principal, ref: Reference, h: AccessRequestHelpers): Attempt {
  if (step.op === "requestAccess") return planRequest(step, caller, ref, h);
  const requests = requestsOf(ref);
  const request = [...requests, undefined][step.object % (requests.length + 1)];
  const id = request?.id ?? GHOST_REQUEST;
  const person = caller.kind === "USER";
  const own = !!request && request.requester === caller.id;
  const gate = request?.env ? "team:manage_environments" : "team:manage_members";
  const sees = !!request && (own || h.holds(request.team, [gate]));
  const grants = request?.env ? ["team:manage_environments", "resources:write"] : [...roleHolds(request?.role ?? "VIEWER"), "team:manage_members"];
  const permitted = !!request && person && !own && h.holds(request.team, grants);
  // A permitted approval of a team role is played as a denial (see above).
  const approve = step.op === "approveAccessRequest" && !(permitted && !request?.env);
  const target: Target = { variable: "id", id, visible: sees, ghost: GHOST_REQUEST };
  return {
    query: approve ? `mutation($id: ID!) { approveAccessRequest(id: $id) { id status } }` : `mutation($id: ID!) { denyAccessRequest(id: $id, reason: "no") { id status } }`,
    variables: { id },
    allowed: permitted ? "either" : "no",
    target,
    apply: () => {
      request!.decided = true;
      if (approve && request!.env) ref.grantees.add(`${request!.env}|${request!.requester}`);
    },
    harmless: !approve,
  };
}

function planRequest(step: Step, caller: Principal, ref: Reference, h: AccessRequestHelpers): Attempt {
  const onEnv = step.choice % 2 === 0;
  const scope = h.objectOf(onEnv ? "env" : "team");
  const object = ref.object(scope);
  const team = onEnv ? object?.team : scope;
  const org = object?.org;
  const role = TEAM_ROLES[(step.choice >> 1) % 4]!;
  const visible = h.visible(scope);
  const permitted = caller.kind === "USER" && h.inOrg(caller, org) && !!object && ref.visible(caller, scope);
  const held = ref.permissions(caller, scope);
  // Asking for what one holds is refused; so is a grant that gives nothing (only the team's writers deploy).
  const valid = !team ? true : onEnv ? h.holds(team, ["resources:write"]) && !held.has("environment:manage") : !h.holds(team, roleHolds(role));
  const allowed: Attempt["allowed"] = permitted ? (valid ? "either" : "invalid") : valid ? "no" : "refused";
  return {
    query: `mutation($i: AccessRequestInput!) { requestAccess(input: $i) { id status } }`,
    variables: { i: { scopeId: scope, durationMinutes: 60, justification: "attacker model", ...(onEnv ? {} : { role }) } },
    allowed,
    target: { variable: "i.scopeId", id: scope, visible, ghost: h.ghost(onEnv ? "env" : "team") },
    apply: (data) => {
      requestsOf(ref).push({ id: data.requestAccess.id, requester: caller.id, org: org!, team: team!, env: onEnv ? scope : undefined, role: onEnv ? undefined : role, decided: false });
    },
    harmless: true,
  };
}
