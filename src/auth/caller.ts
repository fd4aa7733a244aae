import type { AppContext } from "../context.js";
import { forbidden, unauthenticated } from "../errors.js";
import { subjectOf, type Principal } from "./principal.js";

/**
 * The caller of a request, as services need it: who must be a person, who acts from here on,
 * and who is recorded as the author of a change. (principal.ts defines who a caller can be.)
 */

/** The calling user, for actions only a person may take (create an organization, accept an invitation). */
export function requireUser(ctx: AppContext): Extract<Principal, { kind: "USER" }> {
  if (!ctx.principal) throw unauthenticated();
  if (ctx.principal.kind !== "USER") throw forbidden("Only a user can do this, not a service account or team key");
  return ctx.principal;
}

/**
 * FORBIDDEN for a caller that authenticated with a key's previous secret (in its rotation
 * grace period): that secret is on its way out, perhaps because it leaked, so it may keep
 * working but never mint a credential — rotate the key again (and lock its owner out), create
 * keys, service accounts or invitations, connect an IdP or map its groups (which mint accounts),
 * approve an access request — nor revoke a key (its own: that ends the owner's new secret too). Called first by each of those mutations, before any lookup, so it answers alike
 * whatever the ids.
 */
export function refuseGraceSecret(ctx: AppContext): void {
  if (ctx.principal?.via.method === "api_key" && ctx.principal.via.previousSecret) {
    throw forbidden("This key's previous secret is in its rotation grace period: it cannot mint credentials, grant access or revoke keys; use the new secret");
  }
}

/** From here on, the request acts as `principal` (after redeeming an invitation, say). */
export function actAs(ctx: AppContext, principal: Principal): void {
  ctx.principal = principal;
  ctx.authz = ctx.authz.asSubject(subjectOf(principal));
}

/** The id the caller is recorded under (createdBy, startedBy). */
export const actorId = (ctx: AppContext): string | null => ctx.principal?.id ?? null;
