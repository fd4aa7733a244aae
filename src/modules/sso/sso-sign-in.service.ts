import { ref } from "../../authz/model.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppDeps } from "../../context.js";
import type { Db, OrgRole, TeamRole, Tx } from "../../db/database.js";
import { recordIdpChange } from "../audit/audit.js";
import { removeMembershipIn } from "../member/member.service.js";
import { orgRole, userInOrg } from "../organization/organization.relationships.js";
import { addOrgMembership, changeOrgMembershipRole, lockOrgMemberships, orgAdminCount, orgMembershipOf } from "../organization/organization.service.js";
import { changeTeamRoleIn, leaveTeamIn } from "../team/team-membership.service.js";
import { joinTeam, membershipsInOrg, teamIdsInOrg } from "../team/team.service.js";
import { findOrCreateManagedUser, managedUserOf } from "../user/user.service.js";
import { markSsoReconciled, type User } from "../user/user.service.js";
import { findMappingsOfGroups, type SsoConnection, type SsoGroupMapping } from "./sso.repository.js";
import type { SsoIdentity } from "./sso-verify.js";
import { capPersonalKeysOnJoining } from "../key-policy/key-policy.service.js";

/**
 * A sign-in through an organization's SSO connection: the account the organization manages for
 * the token's (issuer, subject) — provisioned on first sign-in, never a platform account, never
 * found by email — and, at every sign-in, its SSO-managed memberships in that organization
 * reconciled with what the token's groups imply (README, "Single sign-on per organization").
 */

const ORG_RANK: Record<OrgRole, number> = { ADMIN: 3, BILLING_ADMIN: 2, MEMBER: 1 };
const TEAM_RANK: Record<TeamRole, number> = { ADMIN: 4, MEMBER: 3, OPERATOR: 2, VIEWER: 1 };

/** What the mapped groups imply: highest role wins where groups overlap. No mapped group: no membership. */
export interface Desired {
  orgRole: OrgRole | null;
  teams: Map<string, TeamRole>;
}

export function desiredOf(mappings: SsoGroupMapping[]): Desired {
  if (mappings.length === 0) return { orgRole: null, teams: new Map() };
  let role: OrgRole = "MEMBER";
  const teams = new Map<string, TeamRole>();
  for (const mapping of mappings) {
    if (mapping.org_role && ORG_RANK[mapping.org_role] > ORG_RANK[role]) role = mapping.org_role;
    for (const { teamId, role: teamRole } of mapping.teams) {
      const held = teams.get(teamId);
      if (!held || TEAM_RANK[teamRole] > TEAM_RANK[held]) teams.set(teamId, teamRole);
    }
  }
  return { orgRole: role, teams };
}

export type Change =
  | { kind: "org.join"; role: OrgRole }
  | { kind: "org.set_role"; from: OrgRole; to: OrgRole }
  | { kind: "org.leave"; role: OrgRole }
  | { kind: "team.join"; teamId: string; role: TeamRole }
  | { kind: "team.set_role"; teamId: string; from: TeamRole; to: TeamRole }
  | { kind: "team.leave"; teamId: string; role: TeamRole };

/**
 * The changes that bring the user's SSO-managed memberships to `desired`. Memberships granted
 * by hand are never touched; the last ADMIN is never removed or demoted (`keptLastAdmin`).
 */
async function planChanges(tx: Tx, orgId: string, userId: string, desired: Desired): Promise<{ changes: Change[]; keptLastAdmin: boolean }> {
  const membership = await orgMembershipOf(tx, orgId, userId);
  const changes: Change[] = [];
  const isLastAdmin = async () => membership?.role === "ADMIN" && (await orgAdminCount(tx, orgId)) <= 1;
  if (membership?.sso_managed && desired.orgRole === null) {
    if (await isLastAdmin()) return { changes, keptLastAdmin: true };
    // The removal's cascade takes its teams too.
    return { changes: [{ kind: "org.leave", role: membership.role }], keptLastAdmin: false };
  }
  let keptLastAdmin = false;
  if (!membership && desired.orgRole) changes.push({ kind: "org.join", role: desired.orgRole });
  if (membership?.sso_managed && desired.orgRole && membership.role !== desired.orgRole) {
    if (membership.role === "ADMIN" && (await isLastAdmin())) keptLastAdmin = true;
    else changes.push({ kind: "org.set_role", from: membership.role, to: desired.orgRole });
  }
  if (!membership && !desired.orgRole) return { changes, keptLastAdmin };
  const current = membership ? await membershipsInOrg(tx, orgId, userId) : [];
  // Teams deleted since the mapping was set are skipped.
  const teams = new Set(await teamIdsInOrg(tx, orgId, [...desired.teams.keys()]));
  for (const row of current) {
    if (row.sso_managed && !teams.has(row.team_id)) changes.push({ kind: "team.leave", teamId: row.team_id, role: row.role });
  }
  for (const [teamId, role] of desired.teams) {
    if (!teams.has(teamId)) continue;
    const row = current.find((m) => m.team_id === teamId);
    if (!row) changes.push({ kind: "team.join", teamId, role });
    else if (row.sso_managed && row.role !== role) changes.push({ kind: "team.set_role", teamId, from: row.role, to: role });
  }
  return { changes, keptLastAdmin };
}

async function apply(tx: Tx, orgId: string, userId: string, change: Change): Promise<void> {
  const user = ref("user", userId);
  const team = (teamId: string) => ({ id: teamId, org_id: orgId });
  switch (change.kind) {
    case "org.join":
      await addOrgMembership(tx, orgId, userId, change.role, true);
      // The account's personal keys act here from now on: capped to this organization's key policy, as on accepting an invitation.
      await capPersonalKeysOnJoining(tx, orgId, userId);
      return writeRelationships(tx, { orgId }, { add: [orgRole(orgId, userId, change.role), userInOrg(userId, orgId)] });
    case "org.set_role":
      await changeOrgMembershipRole(tx, orgId, userId, change.to, true);
      return writeRelationships(tx, { orgId }, { remove: [orgRole(orgId, userId, change.from)], add: [orgRole(orgId, userId, change.to)] });
    case "org.leave":
      return removeMembershipIn(tx, orgId, userId);
    case "team.join":
      await joinTeam(tx, team(change.teamId), user, change.role, { ssoManaged: true });
      return;
    case "team.set_role":
      return changeTeamRoleIn(tx, team(change.teamId), user, change.from, change.to);
    case "team.leave":
      return leaveTeamIn(tx, team(change.teamId), user);
  }
}

const AUDIT_ACTION: Record<Change["kind"], string> = {
  "org.join": "sso.member.join",
  "org.set_role": "sso.member.set_role",
  "org.leave": "sso.member.remove",
  "team.join": "sso.team_member.join",
  "team.set_role": "sso.team_member.set_role",
  "team.leave": "sso.team_member.remove",
};

function diffOf(change: Change): unknown {
  if (change.kind === "org.join" || change.kind === "team.join") return { role: { before: null, after: change.role } };
  if (change.kind === "org.leave" || change.kind === "team.leave") return { role: { before: change.role, after: null } };
  return { role: { before: change.from, after: change.to } };
}

/** A first sign-in found another account of this organization with the token's email (the per-organization unique email). */
export class ManagedEmailTaken extends Error {}

/**
 * A first sign-in whose groups map to nothing (or whose token has no iat, so reconciles
 * nothing): no account is created, so an IdP cannot grow the users table with accounts that
 * reach nothing.
 */
export class NoAccessGranted extends Error {}

/**
 * Signs the token's user in for the connection's organization. A read without locks decides
 * whether anything changes; if so (or the account is new), one transaction, serialized with
 * every other membership change of the organization (lockOrgMemberships), provisions and
 * reconciles, audits each change as the identity provider, and moves the consistency stamp;
 * the relationships are applied to SpiceDB before the request goes on, so it (and every later
 * request, any credential of the user's) sees the result.
 */
export async function signInThroughConnection(deps: AppDeps, connection: SsoConnection, identity: SsoIdentity, requestId: string | null): Promise<User> {
  const orgId = connection.org_id;
  const desiredNow = (db: Db | Tx) => findMappingsOfGroups(db, orgId, identity.groups).then(desiredOf);
  const existing = await managedUserOf(deps.db, orgId, connection.issuer, identity.subject);
  const keptLastAdmin = (userId: string) =>
    deps.logger.warn({ orgId, userId }, "SSO sign-in: the groups no longer imply this ADMIN's role, but it is the organization's last ADMIN; left as it is");
  // A token older than the newest one reconciled (a replay of one issued before a group was
  // taken away), or without iat, signs in but reconciles nothing.
  const iat = identity.issuedAt;
  const stale = (user: User) => iat === undefined || (user.sso_reconciled_iat !== null && iat < user.sso_reconciled_iat);
  if (existing && stale(existing)) return existing;
  if (!existing && (iat === undefined || (await desiredNow(deps.db)).orgRole === null)) throw new NoAccessGranted();
  if (existing) {
    const plan = await deps.db.transaction().execute(async (tx) => planChanges(tx, orgId, existing.id, await desiredNow(tx)));
    if (plan.changes.length === 0) {
      if (plan.keptLastAdmin) keptLastAdmin(existing.id);
      // The mark moves even when nothing changes: an older token after this one must not reconcile.
      // Written only when it moves, so the requests of one token do not each write the user's row.
      if (existing.sso_reconciled_iat === null || iat! > existing.sso_reconciled_iat) await markSsoReconciled(deps.db, existing.id, iat!);
      return existing;
    }
  }
  const user = await deps.db
    .transaction()
    .execute(async (tx) => {
      await lockOrgMemberships(tx, orgId);
      const { user, created } = await findOrCreateManagedUser(tx, { orgId, issuer: connection.issuer, subject: identity.subject, email: identity.email });
      // Re-checked under the lock (a newer token may have reconciled since the read above); the
      // mark moves first, so concurrent sign-ins of the account serialize on its row.
      const reconciles = iat !== undefined && (await markSsoReconciled(tx, user.id, iat));
      const desired = reconciles ? await desiredNow(tx) : undefined;
      // Re-checked under the lock: the mappings may have changed since the read above (rolled back: no row).
      if (created && !desired?.orgRole) throw new NoAccessGranted();
      if (created) await recordIdpChange(tx, { orgId, issuer: connection.issuer, action: "sso.user.create", teamId: null, targetId: user.id, diff: { email: { before: null, after: user.email } }, requestId });
      const { changes, keptLastAdmin: kept } = desired ? await planChanges(tx, orgId, user.id, desired) : { changes: [], keptLastAdmin: false };
      if (kept) keptLastAdmin(user.id);
      for (const change of changes) {
        await apply(tx, orgId, user.id, change);
        const teamId = "teamId" in change ? change.teamId : null;
        await recordIdpChange(tx, { orgId, issuer: connection.issuer, action: AUDIT_ACTION[change.kind], teamId, targetId: user.id, diff: diffOf(change), requestId });
      }
      await deps.consistency.changing(tx);
      return user;
    })
    .catch((error: unknown) => {
      // Only the per-organization email index: any other violation is a fault, not a taken email.
      const violation = error as { code?: unknown; constraint?: unknown };
      if (violation.code === "23505" && violation.constraint === "users_managed_email") throw new ManagedEmailTaken();
      throw error;
    });
  deps.consistency.changed();
  await deps.outbox.flush();
  return user;
}
