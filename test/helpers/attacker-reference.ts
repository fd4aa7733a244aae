/**
 * The attacker model test's reference: who holds what, written from PRODUCT.md §1–§8 and
 * the no-escalation rules of issue 11 alone (no import of src/authz/catalog.ts or
 * schema.zed). `permissions` is an UPPER bound: Orgraph may answer less, never more.
 */
import { ORG_PERMS, TEAM_PERMS, type OrgRole, type TeamRole } from "./spec-permissions.js";

export type { OrgRole, TeamRole };
export type KeyType = "FULL_ACCESS" | "INFERENCE_ONLY" | "METRICS_ONLY";
export type ChainAccess = "VIEWER" | "RUNNER" | "EDITOR";
export type ObjectKind = "org" | "team" | "env" | "model" | "chain";

export { ORG_PERMS, TEAM_PERMS };
/** Renaming the team: held by team ADMINs only, in no catalog name (so no custom role grants it). */
export const MANAGE = "manage";
export const roleHolds = (role: TeamRole): string[] => [
  ...Object.entries(TEAM_PERMS).filter(([, roles]) => roles.includes(role)).map(([p]) => p),
  ...(role === "ADMIN" ? [MANAGE] : []),
];
/** §6 with issue 11's list for FULL_ACCESS: what a team key of each type holds on its team. */
export const KEY_PERMS: Record<KeyType, string[]> = {
  FULL_ACCESS: ["team:view", "audit:read", "metrics:read", "models:invoke", "chains:run", "results:export", "resources:write", "secrets:read_names"],
  INFERENCE_ONLY: ["models:invoke"],
  METRICS_ONLY: ["metrics:read"],
};
/** A chain share of each access gives these chain permissions (§7). */
const SHARE_PERMS: Record<ChainAccess, string[]> = {
  VIEWER: ["chain:view"],
  RUNNER: ["chain:view", "chain:run"],
  EDITOR: ["chain:view", "chain:run", "chain:edit"],
};

export interface Principal {
  id: string;
  kind: "USER" | "SERVICE_ACCOUNT" | "API_KEY" | "ANONYMOUS";
  label: string;
  /** The credential the test calls with (a personal key for users). */
  secret: string;
  email?: string;
  /** For team keys and service accounts: their team; for keys, their type and scope. */
  team?: string;
  keyType?: KeyType;
  /** For users and service accounts: the id of the key `secret` is (a target of rotateApiKey). */
  keyId?: string;
  envScope?: string[];
  modelScope?: string[];
}

export interface WorldObject {
  id: string;
  kind: ObjectKind;
  org: string;
  team?: string;
  isDefault?: boolean;
}

export interface Invitation {
  id: string;
  token: string;
  org: string;
  email: string;
  role: OrgRole;
  teams: { team: string; role: TeamRole }[] | null;
  inviter: string;
  status: "PENDING" | "ACCEPTED" | "REVOKED";
}

export class Reference {
  objects = new Map<string, WorldObject>();
  principals: Principal[] = [];
  orgRole = new Map<string, OrgRole>(); // `${org}|${user}`
  teamRole = new Map<string, TeamRole>(); // `${team}|${principal}`
  rolePerms = new Map<string, { org: string; perms: string[] }>(); // custom role id →
  assignments = new Set<string>(); // `${role}|${team}|${principal}`
  restricted = new Map<string, boolean>(); // env →
  grantees = new Set<string>(); // `${env}|${principal}`
  shares = new Map<string, ChainAccess>(); // `${chain}|${user}`
  invitations: Invitation[] = [];

  object(id: string): WorldObject | undefined {
    return this.objects.get(id);
  }
  principal(id: string): Principal | undefined {
    return this.principals.find((p) => p.id === id);
  }
  teamsOf(org: string): string[] {
    return [...this.objects.values()].filter((o) => o.kind === "team" && o.org === org).map((o) => o.id);
  }

  /** Team permissions (plus MANAGE) of a principal on a team. */
  teamPerms(p: Principal, team: string): Set<string> {
    const org = this.objects.get(team)!.org;
    if (p.kind === "API_KEY") return new Set(p.team === team ? KEY_PERMS[p.keyType!] : []);
    if (p.kind === "USER") {
      const orgRole = this.orgRole.get(`${org}|${p.id}`);
      if (!orgRole) return new Set();
      if (orgRole === "ADMIN") return new Set(roleHolds("ADMIN"));
    }
    const perms = new Set<string>();
    const role = this.teamRole.get(`${team}|${p.id}`);
    if (role) roleHolds(role).forEach((x) => perms.add(x));
    for (const [roleId, { perms: custom }] of this.rolePerms) {
      if (this.assignments.has(`${roleId}|${team}|${p.id}`)) custom.forEach((x) => perms.add(x));
    }
    return perms;
  }

  orgPerms(p: Principal, org: string): Set<string> {
    const role = p.kind === "USER" ? this.orgRole.get(`${org}|${p.id}`) : undefined;
    const perms = new Set(Object.entries(ORG_PERMS).filter(([, roles]) => role && roles.includes(role)).map(([x]) => x));
    // Whoever may view a team of the organization browses the organization through
    // Team.organization (see visible()), but holds no permission on it: organization(id),
    // node(id) and viewerPermissions answer NOT_FOUND to a team key or service account.
    return perms;
  }

  /** The most a principal may hold on an object, as viewerPermissions names it. */
  permissions(p: Principal, id: string): Set<string> {
    const o = this.objects.get(id);
    if (!o) return new Set();
    if (o.kind === "org") return this.orgPerms(p, o.org);
    const team = this.teamPerms(p, o.team!);
    const has = (x: string) => team.has(x);
    const out = new Set<string>();
    if (o.kind === "team") {
      Object.keys(TEAM_PERMS).filter(has).forEach((x) => out.add(x));
      return out;
    }
    if (p.kind === "API_KEY" && o.kind === "env" && p.envScope && !p.envScope.includes(id)) return out;
    if (p.kind === "API_KEY" && o.kind === "model" && p.modelScope && !p.modelScope.includes(id)) return out;
    if (o.kind === "env") {
      if (has("team:view")) out.add("environment:view");
      // Listed with view only: without it viewerPermissions is NOT_FOUND, and visible() and
      // everything() keep treating an inference or metrics key as one that cannot see the environment.
      if (has("team:view") && has("models:invoke")) out.add("environment:invoke");
      if (has("team:view") && has("metrics:read")) out.add("metrics:read");
      const orgAdmin = p.kind === "USER" && this.orgRole.get(`${o.org}|${p.id}`) === "ADMIN";
      if (has("resources:write") && (orgAdmin || !this.restricted.get(id) || this.grantees.has(`${id}|${p.id}`))) out.add("environment:manage");
      if (has("team:manage_environments")) out.add("environment:manage_access");
    } else if (o.kind === "model") {
      if (has("team:view")) out.add("model:view");
      if (has("models:invoke")) out.add("model:invoke");
      if (has("resources:write")) out.add("model:edit");
      if (has("resources:delete")) out.add("model:delete");
      if (has("metrics:read")) out.add("metrics:read");
    } else {
      if (has("team:view")) out.add("chain:view");
      if (has("chains:run")) out.add("chain:run");
      if (has("resources:write")) out.add("chain:edit");
      if (has("resources:delete")) out.add("chain:delete");
      const share = p.kind === "USER" && this.orgRole.has(`${o.org}|${p.id}`) ? this.shares.get(`${id}|${p.id}`) : undefined;
      if (share) SHARE_PERMS[share].forEach((x) => out.add(x));
    }
    return out;
  }

  /**
   * May the principal see that the object exists at all? Viewing it, or browsing it: a
   * member browses the default team, a billing admin every team, a chain guest the chain's
   * team, and anyone who sees something of an organization sees the organization.
   */
  visible(p: Principal, id: string): boolean {
    const o = this.objects.get(id);
    if (!o) return false;
    if (this.permissions(p, id).size > 0) return true;
    if (p.kind === "API_KEY" && p.team && this.objects.get(p.team)!.org === o.org && (o.kind === "org" || (o.kind === "team" && o.id === p.team))) return true;
    if (p.kind === "SERVICE_ACCOUNT" && p.team && (o.kind === "org" ? this.objects.get(p.team)!.org === o.org : o.id === p.team)) return true;
    const orgRole = p.kind === "USER" ? this.orgRole.get(`${o.org}|${p.id}`) : undefined;
    if (o.kind === "org") return orgRole !== undefined;
    if (o.kind !== "team" || !orgRole) return false;
    if (orgRole === "BILLING_ADMIN") return true;
    if (o.isDefault) return true;
    return [...this.shares.keys()].some((k) => k.endsWith(`|${p.id}`) && this.objects.get(k.split("|")[0]!)?.team === o.id);
  }

  /** Does `p` hold every one of `perms` on `team`? */
  holdsAll(p: Principal, team: string, perms: Iterable<string>): boolean {
    const held = this.teamPerms(p, team);
    return [...perms].every((x) => held.has(x));
  }

  /** Every permission a principal holds on a team and each of its environments (for a key of a service account). */
  everything(p: Principal, team: string): Set<string> {
    const out = new Set([...this.teamPerms(p, team)].map((x) => `team/${x}`));
    for (const o of this.objects.values()) if (o.kind === "env" && o.team === team) this.permissions(p, o.id).forEach((x) => out.add(`${o.id}/${x}`));
    return out;
  }

  /** Takes a user out of an organization: every team role, grant, share and assignment there. */
  removeFromOrg(org: string, user: string): void {
    this.orgRole.delete(`${org}|${user}`);
    for (const t of this.teamsOf(org)) {
      this.teamRole.delete(`${t}|${user}`);
      for (const r of this.rolePerms.keys()) this.assignments.delete(`${r}|${t}|${user}`);
    }
    for (const o of this.objects.values()) {
      if (o.org !== org) continue;
      this.grantees.delete(`${o.id}|${user}`);
      this.shares.delete(`${o.id}|${user}`);
    }
  }
}
