import { createPublicKey, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, decodeJwt, type JWTPayload } from "jose";
import { identityOf, verifyJwt, type JwtKey } from "../../auth/jwt.js";
import type { Db } from "../../db/database.js";
import type { Logger } from "../../logger.js";
import { findConnectionsFor, type SsoConnection } from "./sso.repository.js";

export type { SsoConnection };

/**
 * Routing and verifying the tokens of organizations' own identity providers (issue 16 §1).
 * An organization's ADMIN controls its IdP, so what such a token says is believed only for that
 * organization: it signs in an account managed by the organization (sso-sign-in.service.ts).
 */

/** Only asymmetric signatures: a shared secret (HS*) would let whoever knows it mint tokens. */
const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
const BY_KEY_TYPE: Record<string, string[]> = {
  rsa: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
  "rsa-pss": ["PS256", "PS384", "PS512"],
  ec: ["ES256", "ES384", "ES512"],
  ed25519: ["EdDSA", "Ed25519"],
};

/** The algorithms the key verifies (a token of any other is a bad token, 401, before the key is tried). */
function algorithmsOf(key: KeyObject): string[] {
  if (key.asymmetricKeyType !== "ec") return BY_KEY_TYPE[key.asymmetricKeyType ?? ""] ?? [];
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === "prime256v1" ? ["ES256"] : curve === "secp384r1" ? ["ES384"] : curve === "secp521r1" ? ["ES512"] : [];
}

/** A PEM public key a connection can verify with; undefined when it is not one (bad PEM, a private key, an unsupported type). */
export function parsePublicKey(pem: string): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: pem, format: "pem" });
    return key.type === "public" && algorithmsOf(key).length > 0 ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An issuer as compared (never as verified: jose's issuer check is exact): scheme and host
 * lower-cased, trailing slashes stripped. Two spellings of one issuer are one issuer, so an
 * organization cannot register a variant of the platform's or of another organization's.
 */
export function normalizeIssuer(issuer: string): string {
  let value = issuer.trim();
  try {
    const url = new URL(value);
    // URL lower-cases the scheme and host and leaves the path as it is.
    value = `${url.protocol}//${url.host}${url.pathname}${url.search}`;
  } catch {
    // Not a URL (OIDC wants one; some IdPs do not): compared as given.
  }
  return value.replace(/\/+$/, "");
}

/** The token's issuer claim, read without verifying (for routing only). */
export function issuerOfToken(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection whose (issuer, audience) the token names, read off the token without
 * verifying it (verification follows, with that connection's keys). None when the token names
 * no connection, or names several and neither its azp nor its first audience tells which (401).
 */
export async function connectionOfToken(db: Db, token: string): Promise<SsoConnection | undefined> {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch {
    return undefined;
  }
  if (typeof claims.iss !== "string") return undefined;
  const audiences = (typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : []).filter((a) => typeof a === "string").slice(0, 20);
  const found = await findConnectionsFor(db, normalizeIssuer(claims.iss), audiences);
  if (found.length <= 1) return found[0];
  // Several organizations registered this issuer with audiences the token carries (one may have
  // added a second audience of another's tokens, "account"): the token's authorized party, else
  // its first audience, names the one it was issued for; otherwise it is ambiguous (401).
  const named = (audience: unknown) => {
    const matching = typeof audience === "string" ? found.filter((c) => c.audience === audience) : [];
    return matching.length === 1 ? matching[0] : undefined;
  };
  return named(claims.azp) ?? named(audiences[0]);
}

/** Per connection (and its version: a change drops the old keys), the JWKS or imported key. */
const keys = new Map<string, { version: number; key: JwtKey; algorithms: string[] }>();

function keyOf(connection: SsoConnection): { key: JwtKey; algorithms: string[] } {
  const cached = keys.get(connection.org_id);
  if (cached?.version === connection.version) return cached;
  let entry: { version: number; key: JwtKey; algorithms: string[] };
  if (connection.jwks_url) {
    entry = { version: connection.version, key: createRemoteJWKSet(new URL(connection.jwks_url)), algorithms: ASYMMETRIC };
  } else {
    const key = parsePublicKey(connection.public_key_pem ?? "");
    // Checked when the connection was set; a key that no longer parses verifies nothing.
    entry = { version: connection.version, key: key ?? new Uint8Array(), algorithms: key ? algorithmsOf(key) : [] };
  }
  keys.set(connection.org_id, entry);
  return entry;
}

/** What a connection's verified token says about its user. */
export interface SsoIdentity {
  email: string;
  subject: string;
  groups: string[];
  /** The token's iat (seconds), when it has one: only a token at least as new as the last one reconciled reconciles. */
  issuedAt: number | undefined;
}

/** Groups read from a token: at most this many, each at most MAX_GROUP_LENGTH characters (longer ones are ignored). */
export const MAX_TOKEN_GROUPS = 1000;
export const MAX_GROUP_LENGTH = 256;

/** The groups claim: an array of strings (a single string counts as one group; anything else is no groups). */
export function groupsOf(payload: JWTPayload, claim: string): string[] {
  const raw = payload[claim];
  const list: unknown[] = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw.slice(0, MAX_TOKEN_GROUPS) : [];
  return [...new Set(list.filter((g): g is string => typeof g === "string" && g.length > 0 && g.length <= MAX_GROUP_LENGTH))];
}

/**
 * Verifies the token with the connection's keys, issuer and audience: undefined for a bad token
 * (401) or one without a usable email (as the platform's tokens: required, not unverified);
 * AUTHZ_UNAVAILABLE when the connection's JWKS cannot be fetched (that organization's tokens only).
 */
export async function verifySsoToken(connection: SsoConnection, token: string, logger: Logger): Promise<SsoIdentity | undefined> {
  const { key, algorithms } = keyOf(connection);
  if (algorithms.length === 0) return undefined;
  const payload = await verifyJwt(token, key, { issuer: connection.issuer, audience: connection.audience, algorithms }, logger, connection.jwks_url ?? undefined);
  const identity = payload && identityOf(payload);
  if (!payload || !identity) return undefined;
  const issuedAt = typeof payload.iat === "number" && Number.isFinite(payload.iat) ? payload.iat : undefined;
  return { email: identity.email, subject: identity.subject, groups: groupsOf(payload, connection.groups_claim), issuedAt };
}
