import type { Relationship } from "../../authz/model.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { Tx } from "../../db/database.js";
import { writeTransaction } from "../../write.js";
import type { Team } from "./team.repository.js";
import { getBrowsableTeam, teamRef } from "./team.service.js";

/** What a change inside one team is given: its transaction, the team, and its relationship writes (owned by the team). */
export interface TeamChange {
  tx: Tx;
  team: Team;
  relate(change: { add?: Relationship[]; remove?: Relationship[] }): Promise<void>;
}

/**
 * The shape of every "create something in a team" mutation, in one place: the team must be
 * reachable (NOT_FOUND otherwise), the caller must hold `permission` on it (FORBIDDEN), any
 * further guard runs (`guard`, e.g. no-escalation), and then the rows and their relationships
 * are written in one transaction (write.ts), applied to SpiceDB before the caller is answered.
 */
export async function writeInTeam<T>(
  ctx: AppContext,
  teamId: string,
  permission: string,
  change: (team: TeamChange) => Promise<T>,
  options: { onConflict?: string; guard?: (team: Team) => Promise<void> } = {},
): Promise<T> {
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(team.id), permission);
  await options.guard?.(team);
  return writeTransaction(
    ctx,
    (tx) =>
      change({
        tx,
        team,
        relate: (relationships) => writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, relationships),
      }),
    { onConflict: options.onConflict },
  );
}
