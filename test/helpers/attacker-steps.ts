import { DEPLOYMENT_OPS, isDeploymentOp, planDeploymentOp } from "./attacker-steps-deployments.js";
import { KEY_PERMS, roleHolds, TEAM_PERMS, type ChainAccess, type KeyType, type ObjectKind, type OrgRole, type Principal, type Reference, type TeamRole } from "./attacker-reference.js";
import { CHAIN_RUN_OPS, isChainRunOp, planChainRunStep } from "./attacker-steps-chain-runs.js";
import { isToolPolicyOp, planToolPolicyStep, TOOL_POLICY_OPS } from "./attacker-steps-tool-policy.js";
import { isLimitsOp, LIMITS_OPS, planLimitsOp } from "./attacker-steps-limits.js";
import { IP_ALLOWLIST_OPS, planSetIpAllowlist } from "./attacker-steps-ip-allowlists.js";
import { isKeyLifecycleOp, KEY_LIFECYCLE_OPS, planKeyLifecycleOp } from "./attacker-steps-key-lifecycle.js";
import { ACCESS_REQUEST_OPS, isAccessRequestOp, planAccessRequestStep } from "./attacker-steps-access-requests.js";
import { isSsoOp, planSsoStep, SSO_OPS } from "./attacker-steps-sso.js";

/**
 * Each attack step: the GraphQL call, what the reference expects of it (from the rules of
 * issue 11), and the state change to record when it succeeds. Ids come from BOTH
 * organizations, plus one well-formed id of each kind that does not exist (`ghost`).
 */
export const OPS = [
  "setTeamRole", "removeTeamMember", "setOrgRole", "removeMember", "inviteMember", "acceptInvitation", "revokeInvitation",
  "createTeamKey", "createServiceAccountKey", "createServiceAccount", "grantEnvironmentAccess", "revokeEnvironmentAccess",
  "setEnvironmentRestricted", "shareChain", "assignRole", "updateRole", "renameTeam", "setBillingEmail", ...CHAIN_RUN_OPS,
  ...DEPLOYMENT_OPS, ...TOOL_POLICY_OPS, ...LIMITS_OPS, ...IP_ALLOWLIST_OPS, ...KEY_LIFECYCLE_OPS, ...ACCESS_REQUEST_OPS, ...SSO_OPS,
] as const;
export type Op = (typeof OPS)[number];
/** Indices are taken modulo the pool they pick from, so a step means something in every world. */
export interface Step { op: Op; caller: number; object: number; principal: number; choice: number }

const PREFIX: Record<ObjectKind | "user" | "invitation" | "role", string> = {
  org: "org", team: "team", env: "env", model: "mdl", chain: "chn", user: "usr", invitation: "inv", role: "role",
};
export const ghost = (kind: keyof typeof PREFIX) => `${PREFIX[kind]}_${"0".repeat(28)}`;
const TEAM_ROLES: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"];
const ORG_ROLES: OrgRole[] = ["ADMIN", "BILLING_ADMIN", "MEMBER"];
const KEY_TYPES: KeyType[] = ["FULL_ACCESS", "INFERENCE_ONLY", "METRICS_ONLY"];
const ACCESS: ChainAccess[] = ["VIEWER", "RUNNER", "EDITOR"];
const SHARE: Record<ChainAccess, string[]> = { VIEWER: ["chain:view"], RUNNER: ["chain:view", "chain:run"], EDITOR: ["chain:view", "chain:run", "chain:edit"] };

/**
 * allowed: "yes" must succeed; "no" must fail (NOT_FOUND, same as for `ghost`, when the
 * target is invisible; FORBIDDEN when visible); "invalid": permitted but malformed, must
 * fail; "refused": neither permitted nor well-formed, must fail (NOT_FOUND when the target
 * is invisible, else any code); "either": the reference does not decide (success is still
 * recorded).
 */
export interface Attempt {
  query: string;
  variables: Record<string, unknown>;
  allowed: "yes" | "no" | "invalid" | "refused" | "either";
  /** The target whose visibility decides NOT_FOUND vs FORBIDDEN; the variable to swap for a ghost. */
  target?: { variable: string; id: string; visible: boolean | "maybe"; ghost: string };
  /** A second id (a principal) that, when invisible to the caller, must be indistinguishable from a ghost. */
  other?: { variable: string; id: string; visible: boolean; ghost: string };
  /** The principal the step acts upon, for the sampled permission checks. */
  subject?: Principal;
  apply(data: Record<string, any>, ref: Reference): Principal[] | void;
  /** Mutations that change nobody's permissions leave the world clean for the next sequence. */
  harmless?: boolean;
}

const pick = <T>(items: T[], index: number): T => items[index % items.length]!;

export function plan(step: Step, caller: Principal, ref: Reference): Attempt {
  if (isChainRunOp(step.op)) return planChainRunStep(step, caller, ref);
  if (isDeploymentOp(step.op)) return planDeploymentOp({ ...step, op: step.op }, caller, ref);
  if (isLimitsOp(step.op)) return planLimitsOp({ ...step, op: step.op }, caller, ref);
  if (isKeyLifecycleOp(step.op)) return planKeyLifecycleOp({ ...step, op: step.op }, caller, ref);
  const kind = (k: ObjectKind) => [...ref.objects.values()].filter((o) => o.kind === k).map((o) => o.id);
  const objectOf = (k: ObjectKind) => pick([...kind(k), ghost(k)], step.object);
  const people = ref.principals.filter((p) => p.kind !== "ANONYMOUS");
  const subject = pick([...people, undefined], step.principal);
  const subjectId = subject?.id ?? ghost("user");
  const team = objectOf("team");
  const teamOrg = ref.object(team)?.org;
  // Viewing decides FORBIDDEN; merely browsing (a name in a list) may answer either; unseen is NOT_FOUND.
  const visible = (id: string): boolean | "maybe" => {
    const held = ref.permissions(caller, id);
    // Keys and service accounts only browse their organization; its members view it.
    const viewing = ref.object(id)?.kind === "org" ? ref.orgRole.has(`${id}|${caller.id}`) : ["team:view", "environment:view", "model:view", "chain:view"].some((x) => held.has(x));
    return viewing ? true : ref.visible(caller, id) ? "maybe" : false;
  };
  const teamTarget = { variable: "t", id: team, visible: visible(team), ghost: ghost("team") };
  // A principal is known to the caller when both belong to the same organization.
  const sees = (org: string | undefined) => !!org && ref.visible(caller, org);
  const inOrg = (p: Principal | undefined, org: string | undefined) =>
    !!p && !!org && (p.kind === "USER" ? ref.orgRole.has(`${org}|${p.id}`) : ref.object(p.team!)?.org === org);
  const otherPrincipal = (org: string | undefined) => ({ variable: "p", id: subjectId, visible: sees(org) && inOrg(subject, org), ghost: ghostOf(subject) });
  const holds = (t: string, perms: Iterable<string>) => !!ref.object(t) && ref.holdsAll(caller, t, perms);
  const orgAdmin = (org: string | undefined) => !!org && caller.kind === "USER" && ref.orgRole.get(`${org}|${caller.id}`) === "ADMIN";
  const decide = (permitted: boolean, valid: boolean): Attempt["allowed"] => (permitted ? (valid ? "yes" : "invalid") : valid ? "no" : "refused");
  if (isToolPolicyOp(step.op)) return planToolPolicyStep(step, ref, team, teamTarget, holds(team, ["manage"]));
  const member = (p: Principal | undefined, t: string) =>
    !!p && ((p.kind === "USER" && inOrg(p, ref.object(t)?.org)) || (p.kind === "SERVICE_ACCOUNT" && p.team === t));
  const orgTarget = (org: string) => ({ variable: "o", id: org, visible: visible(org), ghost: ghost("org") });
  if (isAccessRequestOp(step.op)) return planAccessRequestStep(step, caller, ref, { objectOf, visible, holds, inOrg, ghost });
  if (isSsoOp(step.op)) {
    const org = objectOf("org");
    return planSsoStep({ ...step, op: step.op }, { target: orgTarget(org), manages: ref.orgPerms(caller, org).has("org:manage") }, { id: team, inOrg: !!teamOrg && teamOrg === org }, decide);
  }

  switch (step.op) {
    case "setTeamRole": {
      const role = pick(TEAM_ROLES, step.choice);
      const current = ref.teamRole.get(`${team}|${subjectId}`);
      const permitted = holds(team, ["team:manage_members", ...roleHolds(role), ...(current ? roleHolds(current) : [])]);
      return {
        query: `mutation($t: ID!, $p: ID!, $r: TeamRole!) { ${current ? "setTeamRole" : "addTeamMember"}(teamId: $t, principalId: $p, role: $r) { role } }`,
        variables: { t: team, p: subjectId, r: role }, allowed: decide(permitted, member(subject, team)), target: teamTarget, other: otherPrincipal(teamOrg), subject,
        apply: () => void ref.teamRole.set(`${team}|${subjectId}`, role),
      };
    }
    case "removeTeamMember": {
      const current = ref.teamRole.get(`${team}|${subjectId}`);
      const permitted = holds(team, ["team:manage_members", ...(current ? roleHolds(current) : [])]);
      return {
        query: `mutation($t: ID!, $p: ID!) { removeTeamMember(teamId: $t, principalId: $p) }`,
        variables: { t: team, p: subjectId }, allowed: decide(permitted, !!current), target: teamTarget, other: otherPrincipal(teamOrg), subject,
        apply: () => {
          ref.teamRole.delete(`${team}|${subjectId}`);
          for (const o of ref.objects.values()) if (o.kind === "env" && o.team === team) ref.grantees.delete(`${o.id}|${subjectId}`);
          // Its custom roles on the team go with it (team-membership.service.ts).
          for (const r of ref.rolePerms.keys()) ref.assignments.delete(`${r}|${team}|${subjectId}`);
        },
      };
    }
    case "setOrgRole":
    case "removeMember": {
      const org = objectOf("org");
      const role = pick(ORG_ROLES, step.choice);
      const admins = [...ref.orgRole.entries()].filter(([k, r]) => k.startsWith(`${org}|`) && r === "ADMIN").length;
      const demotesLast = ref.orgRole.get(`${org}|${subjectId}`) === "ADMIN" && admins === 1 && (step.op === "removeMember" || role !== "ADMIN");
      const valid = subject?.kind === "USER" && ref.orgRole.has(`${org}|${subjectId}`) && !demotesLast;
      const remove = step.op === "removeMember";
      return {
        query: remove
          ? `mutation($o: ID!, $p: ID!) { removeMember(organizationId: $o, userId: $p) }`
          : `mutation($o: ID!, $p: ID!, $r: OrgRole!) { setOrgRole(organizationId: $o, userId: $p, role: $r) { role } }`,
        variables: remove ? { o: org, p: subjectId } : { o: org, p: subjectId, r: role },
        allowed: decide(orgAdmin(org), valid), target: orgTarget(org), other: otherPrincipal(org), subject,
        apply: () => (remove ? ref.removeFromOrg(org, subjectId) : void ref.orgRole.set(`${org}|${subjectId}`, role)),
      };
    }
    case "inviteMember": {
      const org = objectOf("org");
      const role = pick(ORG_ROLES, step.choice);
      // The invited address: an existing principal's (a takeover attempt) or a fresh one.
      const email = subject?.email ?? `fresh-${step.principal}-${Math.random().toString(36).slice(2, 8)}@attacker.test`;
      const teams = step.choice % 3 === 0 ? null : step.choice % 3 === 1 ? [] : [{ team, role: pick(TEAM_ROLES, step.object) }];
      const valid = (teams ?? []).every((t) => ref.object(t.team)?.org === org) && !(subject && ref.orgRole.has(`${org}|${subject.id}`));
      const permitted = orgAdmin(org) && (teams ?? []).every((t) => !ref.object(t.team) || holds(t.team, roleHolds(t.role)));
      return {
        query: `mutation($i: InviteMemberInput!) { inviteMember(input: $i) { token invitation { id } } }`,
        variables: { i: { organizationId: org, email, role, teams: teams?.map((t) => ({ teamId: t.team, role: t.role })) ?? null } },
        allowed: decide(permitted, valid), target: { variable: "i.organizationId", id: org, visible: visible(org), ghost: ghost("org") },
        apply: (data) => {
          ref.invitations.push({ id: data.inviteMember.invitation.id, token: data.inviteMember.token, org, email, role, teams, inviter: caller.id, status: "PENDING" });
        },
      };
    }
    case "acceptInvitation": {
      const invitation = pick([...ref.invitations, undefined], step.object);
      const token = invitation?.token ?? "ogi_not-a-real-token";
      const existing = ref.principals.find((p) => p.kind === "USER" && p.email === invitation?.email);
      const usable = !!invitation && invitation.status === "PENDING" && ref.orgRole.get(`${invitation.org}|${invitation.inviter}`) === "ADMIN";
      let allowed: Attempt["allowed"] = "invalid";
      if (usable && caller.kind === "ANONYMOUS") allowed = existing ? "no" : "yes";
      else if (usable) allowed = caller.kind === "USER" && caller.email === invitation.email ? (ref.orgRole.has(`${invitation.org}|${caller.id}`) ? "invalid" : "yes") : "no";
      return {
        query: `mutation($k: String!) { acceptInvitation(token: $k) { user { id } secret } }`, variables: { k: token }, allowed,
        apply: (data) => {
          invitation!.status = "ACCEPTED";
          const user: Principal = existing ?? { id: data.acceptInvitation.user.id, kind: "USER", label: `invited:${invitation!.email}`, secret: data.acceptInvitation.secret, email: invitation!.email };
          if (!existing) ref.principals.push(user);
          ref.orgRole.set(`${invitation!.org}|${user.id}`, invitation!.role);
          const defaultTeam = [...ref.objects.values()].find((o) => o.org === invitation!.org && o.isDefault)!.id;
          for (const t of invitation!.teams ?? [{ team: defaultTeam, role: "MEMBER" as const }]) ref.teamRole.set(`${t.team}|${user.id}`, t.role);
          return existing ? [] : [user];
        },
      };
    }
    case "revokeInvitation": {
      const invitation = pick([...ref.invitations, undefined], step.object);
      const id = invitation?.id ?? ghost("invitation");
      const org = invitation?.org;
      const seen = !!org && (orgAdmin(org) || (visible(org) ? ("maybe" as const) : false));
      return {
        query: `mutation($v: ID!) { revokeInvitation(id: $v) { id status } }`, variables: { v: id },
        allowed: decide(orgAdmin(org), invitation?.status === "PENDING"), target: { variable: "v", id, visible: seen, ghost: ghost("invitation") },
        apply: () => void (invitation!.status = "REVOKED"),
      };
    }
    case "createTeamKey": {
      const type = pick(KEY_TYPES, step.choice);
      const scopeKind = step.choice % 3 === 0 ? undefined : step.choice % 3 === 1 ? "env" : "model";
      const scopeId = scopeKind && objectOf(scopeKind === "env" ? "env" : "model");
      const valid = !scopeId || ref.object(scopeId)?.team === team;
      const scope = scopeKind === "env" ? { environmentIds: [scopeId] } : scopeKind === "model" ? { modelIds: [scopeId] } : {};
      return {
        query: `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }`,
        variables: { i: { name: "attack", teamId: team, type, ...scope } },
        allowed: decide(holds(team, ["team:manage_keys", ...KEY_PERMS[type]]), valid), target: { ...teamTarget, variable: "i.teamId" },
        apply: (data) => [addPrincipal(ref, {
          id: data.createApiKey.apiKey.id, kind: "API_KEY", label: `key:${type}`, secret: data.createApiKey.secret, team, keyType: type,
          envScope: scopeKind === "env" ? [scopeId!] : undefined, modelScope: scopeKind === "model" ? [scopeId!] : undefined,
        })],
      };
    }
    case "createServiceAccountKey": {
      const account = pick([...ref.principals.filter((p) => p.kind === "SERVICE_ACCOUNT"), undefined], step.principal);
      const saTeam = account?.team;
      const callerHolds = saTeam ? ref.everything(caller, saTeam) : new Set<string>();
      const permitted = !!saTeam && holds(saTeam, ["team:manage_keys"]) && [...ref.everything(account!, saTeam)].every((x) => callerHolds.has(x));
      const id = account?.id ?? `sa_${"0".repeat(28)}`;
      return {
        query: `mutation($s: ID!) { createApiKey(input: { name: "attack", serviceAccountId: $s }) { apiKey { id } secret } }`, variables: { s: id },
        allowed: decide(permitted, true), target: { variable: "s", id, visible: saTeam ? visible(saTeam) : false, ghost: `sa_${"0".repeat(28)}` },
        apply: () => [],
      };
    }
    case "createServiceAccount": {
      const role = pick(TEAM_ROLES, step.choice);
      return {
        query: `mutation($t: ID!, $n: String!, $r: TeamRole!) { createServiceAccount(teamId: $t, name: $n, role: $r) { serviceAccount { id } secret } }`,
        variables: { t: team, n: `robot-${Math.random().toString(36).slice(2, 10)}`, r: role }, allowed: decide(holds(team, ["team:manage_keys", ...roleHolds(role)]), true), target: teamTarget,
        apply: (data) => {
          const account = addPrincipal(ref, { id: data.createServiceAccount.serviceAccount.id, kind: "SERVICE_ACCOUNT", label: `robot:${role}`, secret: data.createServiceAccount.secret, team });
          ref.teamRole.set(`${team}|${account.id}`, role);
          return [account];
        },
      };
    }
    case "grantEnvironmentAccess":
    case "revokeEnvironmentAccess":
    case "setEnvironmentRestricted": {
      const env = objectOf("env");
      const envTeam = ref.object(env)?.team ?? team;
      const target = { variable: "e", id: env, visible: visible(env), ghost: ghost("env") };
      if (step.op === "setEnvironmentRestricted") {
        const restricted = step.choice % 2 === 0;
        return {
          query: `mutation($e: ID!, $r: Boolean!) { setEnvironmentRestricted(id: $e, restricted: $r) { id } }`, variables: { e: env, r: restricted },
          allowed: decide(holds(envTeam, ["team:manage_environments"]), true), target, apply: () => void ref.restricted.set(env, restricted),
        };
      }
      const grant = step.op === "grantEnvironmentAccess";
      const grantable = member(subject, envTeam) || (subject?.kind === "API_KEY" && subject.team === envTeam && subject.keyType === "FULL_ACCESS");
      const isGrantee = ref.grantees.has(`${env}|${subjectId}`);
      const permitted = holds(envTeam, ["team:manage_environments", ...(grant ? ["resources:write"] : [])]);
      return {
        query: `mutation($e: ID!, $p: ID!) { ${step.op}(environmentId: $e, principalId: $p) { id } }`, variables: { e: env, p: subjectId },
        allowed: !permitted ? "no" : grant ? (grantable ? "yes" : subject && inOrg(subject, ref.object(env)?.org) ? "either" : "invalid") : isGrantee ? "yes" : "either",
        target, other: otherPrincipal(ref.object(env)?.org), subject,
        apply: () => void (grant ? ref.grantees.add(`${env}|${subjectId}`) : ref.grantees.delete(`${env}|${subjectId}`)),
      };
    }
    case "shareChain": {
      const chain = objectOf("chain");
      const access = pick(ACCESS, step.choice);
      const chainTeam = ref.object(chain)?.team;
      const mine = ref.permissions(caller, chain);
      const permitted = !!chainTeam && holds(chainTeam, ["team:manage_members"]) && SHARE[access].every((x) => mine.has(x));
      return {
        query: `mutation($c: ID!, $p: ID!, $a: ChainAccess!) { shareChain(chainId: $c, userId: $p, access: $a) { id } }`, variables: { c: chain, p: subjectId, a: access },
        allowed: decide(permitted, subject?.kind === "USER" && inOrg(subject, ref.object(chain)?.org)),
        target: { variable: "c", id: chain, visible: visible(chain), ghost: ghost("chain") }, other: otherPrincipal(ref.object(chain)?.org), subject,
        apply: () => void ref.shares.set(`${chain}|${subjectId}`, access),
      };
    }
    case "assignRole":
    case "updateRole": {
      const role = pick([...ref.rolePerms.keys(), ghost("role")], step.object);
      const org = ref.rolePerms.get(role)?.org;
      const roleTarget = { variable: "r", id: role, visible: orgAdmin(org) || (!!org && visible(org) ? ("maybe" as const) : false), ghost: ghost("role") };
      if (step.op === "updateRole") {
        const catalog = Object.keys(TEAM_PERMS);
        const perms = catalog.filter((_, i) => (step.choice >> i) & 1);
        return {
          query: `mutation($r: ID!, $p: [String!]!) { updateRole(id: $r, permissions: $p) { id } }`, variables: { r: role, p: perms },
          allowed: decide(orgAdmin(org), perms.length > 0), target: roleTarget, apply: () => void ref.rolePerms.set(role, { org: org!, perms }),
        };
      }
      const perms = ref.rolePerms.get(role)?.perms ?? [];
      return {
        query: `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, variables: { r: role, t: team, p: subjectId },
        // Assigning a role the principal already holds there is CONFLICT.
        allowed: decide(orgAdmin(org) && holds(team, perms), teamOrg === org && member(subject, team) && !ref.assignments.has(`${role}|${team}|${subjectId}`)),
        target: roleTarget, other: otherPrincipal(org), subject,
        apply: () => void ref.assignments.add(`${role}|${team}|${subjectId}`),
      };
    }
    case "setBillingEmail": {
      // Not a grant: billing:manage (org ADMIN, BILLING_ADMIN); a malformed address is refused either way.
      const org = objectOf("org");
      const valid = step.choice % 4 !== 0;
      return {
        query: `mutation($o: ID!, $e: String) { setBillingEmail(organizationId: $o, email: $e) { id } }`,
        variables: { o: org, e: valid ? `billing-${step.choice}@example.test` : "not an address" },
        allowed: decide(ref.orgPerms(caller, org).has("billing:manage"), valid), target: orgTarget(org), apply: () => {}, harmless: true,
      };
    }
    case "setIpAllowlist": {
      const org = objectOf("org");
      const scopes = { org: { target: orgTarget(org), manages: ref.orgPerms(caller, org).has("org:manage") }, team: { target: teamTarget, manages: holds(team, ["manage"]) } };
      return planSetIpAllowlist(step, scopes, decide);
    }
    case "renameTeam":
      return {
        query: `mutation($t: ID!, $n: String!) { renameTeam(id: $t, name: $n) { id } }`, variables: { t: team, n: `renamed-${step.choice}` },
        allowed: decide(holds(team, ["manage"]), true), target: teamTarget, apply: () => {}, harmless: true,
      };
  }
}

/** A nonexistent id of the same type as the principal's. */
const ghostOf = (p: Principal | undefined) => `${{ API_KEY: "key", SERVICE_ACCOUNT: "sa" }[p?.kind as string] ?? "usr"}_${"0".repeat(28)}`;

function addPrincipal(ref: Reference, p: Principal): Principal {
  ref.principals.push(p);
  return p;
}
