import type { Principal } from "../auth/principal.js";
import type { AppContext } from "../context.js";
import { forbidden, unauthenticated } from "../errors.js";

/** The calling user, for actions only a person may take (create an organization, accept an invitation). */
export function requireUser(ctx: AppContext): Extract<Principal, { kind: "USER" }> {
  if (!ctx.principal) throw unauthenticated();
  if (ctx.principal.kind !== "USER") throw forbidden("Only a user can do this, not a service account or team key");
  return ctx.principal;
}
