import { subjectOf, type Principal } from "../auth/principal.js";
import { Authorizer } from "../authz/authorizer.js";
import type { AppContext } from "../context.js";
import { forbidden, unauthenticated } from "../errors.js";

/** The calling user, for actions only a person may take (create an organization, accept an invitation). */
export function requireUser(ctx: AppContext): Extract<Principal, { kind: "USER" }> {
  if (!ctx.principal) throw unauthenticated();
  if (ctx.principal.kind !== "USER") throw forbidden("Only a user can do this, not a service account or team key");
  return ctx.principal;
}

/** From here on, the request acts as `principal` (after redeeming an invitation, say). */
export function actAs(ctx: AppContext, principal: Principal): void {
  ctx.principal = principal;
  ctx.authz = new Authorizer(ctx.deps.authzClient, ctx.deps.consistency, subjectOf(principal), ctx.logger);
}
