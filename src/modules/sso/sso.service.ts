import { refuseGraceSecret, requireUser } from "../../auth/caller.js";
import type { Authorizer } from "../../authz/authorizer.js";
import { ORG_ROLE_GRANTS, requireHeld, TEAM_ROLE_GRANTS } from "../../authz/no-escalation.js";
import type { AppContext } from "../../context.js";
import type { OrgRole, TeamRole } from "../../db/database.js";
import { badInput, conflict } from "../../errors.js";
import { expectId } from "../../ids.js";
import { writeTransaction } from "../../write.js";
import { describeAudit } from "../audit/audit.js";
import { lockOrgMemberships, organizationById, orgRef } from "../organization/organization.service.js";
import type { Organization } from "../organization/organization.repository.js";
import { teamIdsInOrg, teamRef } from "../team/team.service.js";
import { countMappings, deleteMappingRow, findConnection, findMapping, listMappings, upsertConnection, upsertMapping, type SsoGroupMapping } from "./sso.repository.js";
import { MAX_GROUP_LENGTH, normalizeIssuer, parsePublicKey } from "./sso-verify.js";

/** Mappings per organization. */
export const MAX_SSO_GROUP_MAPPINGS = 500;
const MAX_CLAIM = 2048;

export interface SsoConnectionInput {
  organizationId: string;
  issuer: string;
  audience: string;
  jwksUrl?: string | null;
  publicKeyPem?: string | null;
  groupsClaim?: string | null;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(value: string, what: string, max: number): string {
  if (value.length === 0 || value.length > max || CONTROL.test(value)) throw badInput(`${what} must be 1 to ${max} characters, without control characters`);
  return value;
}

/** What the mapping grants when a sign-in applies it: its org role (MEMBER when none) and each team role, as permissions held. */
async function requireHoldsMapping(authz: Authorizer, orgId: string, mapping: { orgRole: OrgRole | null; teams: { teamId: string; role: TeamRole }[] }, action: string): Promise<void> {
  await Promise.all([
    requireHeld(authz, orgRef(orgId), ORG_ROLE_GRANTS[mapping.orgRole ?? "MEMBER"], action),
    ...mapping.teams.map((t) => requireHeld(authz, teamRef(t.teamId), TEAM_ROLE_GRANTS[t.role], action)),
  ]);
}

/** A mapping's team grants, among the organization's teams today (teams deleted since are skipped). */
export async function liveTeamsOf(ctx: AppContext, mapping: SsoGroupMapping): Promise<{ teamId: string; role: TeamRole }[]> {
  const live = new Set(await teamIdsInOrg(ctx.db, mapping.org_id, mapping.teams.map((t) => t.teamId)));
  return mapping.teams.filter((t) => live.has(t.teamId));
}

const asGrant = async (ctx: AppContext, m: SsoGroupMapping) => ({ orgRole: m.org_role, teams: await liveTeamsOf(ctx, m) });

/**
 * Connects the organization's own identity provider: org:manage, by a person (keys cannot), who
 * holds everything every mapping grants — whoever points the connection at an IdP they control
 * can mint managed users in every mapped group.
 */
export async function setSsoConnection(ctx: AppContext, input: SsoConnectionInput): Promise<Organization> {
  // Connecting an IdP mints accounts with every mapping's roles: a credential by proxy.
  refuseGraceSecret(ctx);
  expectId(input.organizationId, "Organization");
  const orgId = input.organizationId;
  // Those who merely browse the organization (its team keys) know it exists: they are FORBIDDEN;
  // for everyone else it answers NOT_FOUND, as a nonexistent one. Then: only a person.
  await ctx.authz.require(orgRef(orgId), "manage", "browse");
  const caller = requireUser(ctx);
  const issuer = text(input.issuer, "issuer", MAX_CLAIM);
  const audience = text(input.audience, "audience", MAX_CLAIM);
  const groupsClaim = text(input.groupsClaim ?? "groups", "groupsClaim", MAX_GROUP_LENGTH);
  const jwksUrl = input.jwksUrl ?? null;
  const publicKeyPem = input.publicKeyPem ?? null;
  if ((jwksUrl === null) === (publicKeyPem === null)) throw badInput("Give exactly one of jwksUrl and publicKeyPem");
  if (jwksUrl !== null) validJwksUrl(jwksUrl, ctx.deps.config.sso.allowHttpJwks);
  if (publicKeyPem !== null && !parsePublicKey(publicKeyPem)) throw badInput("publicKeyPem is not a PEM public key (RSA, EC or Ed25519)");
  // The platform's issuer, whatever the audience: its tokens often carry a second one
  // (Keycloak "account", Auth0 userinfo), which would otherwise route them here (authenticate.ts
  // also sends every token of that issuer to the platform's verifier).
  const issuerNormalized = normalizeIssuer(issuer);
  const platform = ctx.deps.config.jwt;
  if (platform && normalizeIssuer(platform.issuer) === issuerNormalized) {
    throw conflict("This issuer is the platform's own identity provider: an organization cannot connect it");
  }
  const mappings = await listMappings(ctx.db, orgId);
  for (const mapping of mappings) await requireHoldsMapping(ctx.authz, orgId, await asGrant(ctx, mapping), "connect an identity provider: its mappings confer permissions you do not hold");
  const before = await findConnection(ctx.db, orgId);
  const shown = (c: { issuer: string; audience: string; jwks_url: string | null; groups_claim: string } | undefined) =>
    c ? { issuer: c.issuer, audience: c.audience, jwksUrl: c.jwks_url, groupsClaim: c.groups_claim } : null;
  describeAudit(ctx, { orgId, targetId: orgId, diff: { connection: { before: shown(before), after: shown({ issuer, audience, jwks_url: jwksUrl, groups_claim: groupsClaim }) } } });
  await writeTransaction(
    ctx,
    (tx) => upsertConnection(tx, { orgId, issuer, issuerNormalized, audience, jwksUrl, publicKeyPem, groupsClaim, updatedBy: caller.id }),
    { onConflict: "Another organization already connects this issuer and audience" },
  );
  return (await organizationById(ctx.db, orgId))!;
}

/** The server fetches it: https only (SSRF), unless SSO_JWKS_ALLOW_HTTP. */
function validJwksUrl(value: string, allowHttp: boolean): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badInput("jwksUrl is not a URL");
  }
  if (value.length > MAX_CLAIM || url.username || url.password) throw badInput("jwksUrl must be an https URL without credentials");
  if (url.protocol !== "https:" && !(allowHttp && url.protocol === "http:")) throw badInput("jwksUrl must be an https URL");
}

export interface SsoGroupMappingInput {
  organizationId: string;
  group: string;
  orgRole?: OrgRole | null;
  teams?: { teamId: string; role: TeamRole }[] | null;
}

/**
 * Maps an IdP group to an org role and team roles: org:manage, and (no escalation, as
 * inviteMember) the caller holds every permission the mapping grants — and, when it replaces
 * one, everything the old one granted (changing it takes that away from the group's members).
 */
export async function setSsoGroupMapping(ctx: AppContext, input: SsoGroupMappingInput): Promise<SsoGroupMapping> {
  refuseGraceSecret(ctx);
  expectId(input.organizationId, "Organization");
  const orgId = input.organizationId;
  await ctx.authz.require(orgRef(orgId), "manage");
  const group = text(input.group, "group", MAX_GROUP_LENGTH);
  const orgRole = input.orgRole ?? null;
  const teams = input.teams ?? [];
  teams.forEach((t) => expectId(t.teamId, "Team"));
  if (new Set(teams.map((t) => t.teamId)).size !== teams.length) throw badInput("A team is listed twice");
  if ((await teamIdsInOrg(ctx.db, orgId, teams.map((t) => t.teamId))).length !== teams.length) throw badInput("Every team must belong to the organization");
  await requireHoldsMapping(ctx.authz, orgId, { orgRole, teams }, `map a group to these roles`);
  const before = await findMapping(ctx.db, orgId, group);
  if (before) await requireHoldsMapping(ctx.authz, orgId, await asGrant(ctx, before), "change this mapping: it confers permissions you do not hold");
  describeAudit(ctx, {
    orgId,
    targetId: orgId,
    diff: { group, before: before ? { orgRole: before.org_role, teams: before.teams } : null, after: { orgRole, teams } },
  });
  return writeTransaction(ctx, async (tx) => {
    // Serialized per organization, so concurrent additions cannot pass the bound together.
    await lockOrgMemberships(tx, orgId);
    if (!(await findMapping(tx, orgId, group)) && (await countMappings(tx, orgId)) >= MAX_SSO_GROUP_MAPPINGS) {
      throw badInput(`An organization has at most ${MAX_SSO_GROUP_MAPPINGS} group mappings`);
    }
    return upsertMapping(tx, { orgId, group, orgRole, teams, setBy: ctx.principal!.id });
  });
}

/**
 * Deletes a mapping: org:manage, holding what it granted (taking away is granting in reverse).
 * False when the organization has no mapping of that group (nothing changed). Memberships it
 * granted go at each member's next sign-in.
 */
export async function deleteSsoGroupMapping(ctx: AppContext, organizationId: string, group: string): Promise<boolean> {
  refuseGraceSecret(ctx);
  expectId(organizationId, "Organization");
  await ctx.authz.require(orgRef(organizationId), "manage");
  const mapping = await findMapping(ctx.db, organizationId, group);
  if (!mapping) return false;
  await requireHoldsMapping(ctx.authz, organizationId, await asGrant(ctx, mapping), "delete this mapping: it confers permissions you do not hold");
  describeAudit(ctx, { orgId: organizationId, targetId: organizationId, diff: { group, before: { orgRole: mapping.org_role, teams: mapping.teams }, after: null } });
  return writeTransaction(ctx, (tx) => deleteMappingRow(tx, organizationId, group));
}

/** The organization's mappings, for those who may manage it; an empty list for everyone else. */
export async function visibleMappings(ctx: AppContext, orgId: string): Promise<SsoGroupMapping[]> {
  return (await ctx.authz.can(orgRef(orgId), "manage")) ? listMappings(ctx.db, orgId) : [];
}
