import { ref, type Relationship } from "../../authz/model.js";

export type ChainAccess = "VIEWER" | "RUNNER" | "EDITOR";
export const CHAIN_ACCESS_RELATIONS = ["viewer", "runner", "editor"];

/** A chain belongs to its team, and the team knows its chains (so a chain's grantees can reach the team). */
export const chainInTeam = (chainId: string, teamId: string): Relationship[] => [
  { resource: ref("chain", chainId), relation: "team", subject: ref("team", teamId) },
  { resource: ref("team", teamId), relation: "chain", subject: ref("chain", chainId) },
];

export const chainAccess = (chainId: string, userId: string, access: ChainAccess): Relationship => ({
  resource: ref("chain", chainId),
  relation: access.toLowerCase(),
  subject: ref("user", userId),
});
