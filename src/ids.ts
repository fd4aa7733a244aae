import { randomBytes } from "node:crypto";
import { badInput } from "./errors.js";

/**
 * Every entity id carries its type as a prefix (`team_…`). The same string is the Relay
 * global id, the Postgres key and the SpiceDB object id, so a newcomer can read any of them.
 * The body is a millisecond timestamp and 64 random bits, in hex: ids sort by creation,
 * which keyset pagination relies on.
 */
export const ID_PREFIXES = {
  Organization: "org",
  Team: "team",
  User: "usr",
  ServiceAccount: "sa",
  ApiKey: "key",
  Invitation: "inv",
  Model: "mdl",
  Environment: "env",
  Deployment: "dep",
  Chain: "chn",
  ChainRun: "run",
  TrainingProject: "trn",
  Role: "role",
  AuditEvent: "evt",
  AccessRequest: "areq",
} as const;

export type EntityType = keyof typeof ID_PREFIXES;

const TYPE_BY_PREFIX = new Map<string, EntityType>(Object.entries(ID_PREFIXES).map(([type, prefix]) => [prefix, type as EntityType]));
const ID_SHAPE = /^([a-z]+)_([0-9a-f]{12})([0-9a-f]{16})$/;

export function newId(type: EntityType): string {
  const time = Date.now().toString(16).padStart(12, "0");
  return `${ID_PREFIXES[type]}_${time}${randomBytes(8).toString("hex")}`;
}

/** The entity type an id names, or undefined for anything that is not an Orgraph id. */
export function typeOfId(id: string): EntityType | undefined {
  const match = ID_SHAPE.exec(id);
  return match ? TYPE_BY_PREFIX.get(match[1]!) : undefined;
}

/** Checks that `id` is a well-formed id of one of `types`; BAD_USER_INPUT otherwise. */
export function expectId<T extends EntityType>(id: string, ...types: T[]): T {
  const type = typeOfId(id);
  if (!type || !(types as EntityType[]).includes(type)) {
    throw badInput(`"${truncate(id)}" is not a valid ${types.join(" or ")} id`);
  }
  return type as T;
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
