import { badInput } from "./errors.js";

const MAX_NAME = 100;
// Control characters and unpaired surrogates make names unprintable or unsafe in logs.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A display name: trimmed, 1–100 characters, no control characters. */
export function validName(name: string, what = "name"): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw badInput(`The ${what} must not be empty`);
  if (trimmed.length > MAX_NAME) throw badInput(`The ${what} must be at most ${MAX_NAME} characters`);
  if (CONTROL.test(trimmed)) throw badInput(`The ${what} must not contain control characters`);
  return trimmed;
}

/** An email address, lower-cased: one @, a dot in the domain, no spaces, at most 254 characters. */
export function validEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (normalized.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(normalized) || CONTROL.test(normalized)) {
    throw badInput("That is not a valid email address");
  }
  return normalized;
}

/** Page sizes: 1–100, default 50. */
export function validPageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return 50;
  if (!Number.isInteger(first) || first < 1 || first > 100) throw badInput("first must be between 1 and 100");
  return first;
}

/** Upper bounds of the gateway's limits: far above any real team, far below where counters could misbehave. */
export const MAX_REQUESTS_PER_MINUTE = 1_000_000;
export const MAX_MONTHLY_INVOCATIONS = 1_000_000_000;

/** A rate limit or budget: a whole number from 1 to `max`, or null (no limit). `name` is the argument's. */
export function validLimit(value: number | null, name: string, max: number): number | null {
  if (value === null) return null;
  if (!Number.isInteger(value) || value < 1 || value > max) throw badInput(`${name} must be a whole number from 1 to ${max.toLocaleString("en-US")}, or null for no limit`);
  return value;
}
