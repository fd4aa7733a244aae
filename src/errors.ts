import { GraphQLError } from "graphql";

/** The error codes of the spec (PRODUCT.md §10); every expected failure carries one. */
export type ErrorCode = "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND" | "BAD_USER_INPUT" | "CONFLICT" | "AUTHZ_UNAVAILABLE" | "IP_NOT_ALLOWED";

/**
 * The codes that reach a caller unmasked (app.ts): the spec's, RATE_LIMITED (an HTTP 429 answer,
 * with Retry-After) and IP_NOT_ALLOWED (an IP allowlist refused the caller's address: issue 14).
 */
export const SPEC_CODES: ReadonlySet<string> = new Set([
  "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "AUTHZ_UNAVAILABLE", "RATE_LIMITED", "IP_NOT_ALLOWED",
]);

const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 200,
  NOT_FOUND: 200,
  BAD_USER_INPUT: 200,
  CONFLICT: 200,
  AUTHZ_UNAVAILABLE: 503,
  // One object refused among a response's fields; a credential refused as a whole is 403 (ipNotAllowedAtEntry).
  IP_NOT_ALLOWED: 200,
};

export function codedError(code: ErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status: HTTP_STATUS[code] } } });
}

/**
 * Every NOT_FOUND reads the same, whatever was missing: an invisible object must answer
 * exactly as a nonexistent one, and a message naming which object of a chain failed (the
 * deployment, or its model?) would tell them apart. `why` documents the call site only.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export const notFound = (why?: string) => codedError("NOT_FOUND", "Not found");
export const forbidden = (what = "Not allowed") => codedError("FORBIDDEN", what);
export const badInput = (what: string) => codedError("BAD_USER_INPUT", what);
export const conflict = (what: string) => codedError("CONFLICT", what);
export const unauthenticated = (what = "Missing or invalid credentials") => codedError("UNAUTHENTICATED", what);
export const IP_NOT_ALLOWED_MESSAGE = "Your IP address is not in this organization's or team's IP allowlist";
/** A user reaches this object only from an allowed address (authorizer.ts). */
export const ipNotAllowed = () => codedError("IP_NOT_ALLOWED", IP_NOT_ALLOWED_MESSAGE);
/** A team or service-account key used from an address its team refuses: the whole request is refused, HTTP 403. */
export const ipNotAllowedAtEntry = () =>
  new GraphQLError(IP_NOT_ALLOWED_MESSAGE, { extensions: { code: "IP_NOT_ALLOWED", http: { status: 403 } } });
export const authzUnavailable = () =>
  codedError("AUTHZ_UNAVAILABLE", "The authorization service is unavailable; try again shortly");

export function errorCode(error: unknown): ErrorCode | undefined {
  return error instanceof GraphQLError ? (error.extensions?.code as ErrorCode | undefined) : undefined;
}
