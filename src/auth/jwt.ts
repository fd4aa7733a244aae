import { createRemoteJWKSet, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyOptions } from "jose";
import type { Config } from "../config.js";
import { authzUnavailable } from "../errors.js";
import type { Logger } from "../logger.js";

/** `logger` is the request's: an outage is logged with its requestId. */
export type JwtVerifier = (token: string, logger: Logger) => Promise<{ email: string; subject: string; emailVerified: boolean } | undefined>;

/**
 * jose's codes for a token that is wrong (bad signature, expired, wrong claims, unknown key
 * id…). Anything else (the JWKS endpoint unreachable, timing out, answering 500 or garbage)
 * says nothing about the token: it is an outage.
 */
const BAD_TOKEN = new Set([
  "ERR_JWT_EXPIRED",
  "ERR_JWT_CLAIM_VALIDATION_FAILED",
  "ERR_JWT_INVALID",
  "ERR_JWS_INVALID",
  "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  "ERR_JWKS_NO_MATCHING_KEY",
  "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
  "ERR_JOSE_ALG_NOT_ALLOWED",
  "ERR_JOSE_NOT_SUPPORTED",
]);

/**
 * Verifies OIDC JWTs against the configured issuer and audience, with keys from a JWKS URL
 * (fetched and cached by jose) or a PEM public key (JWT_ALGORITHM, default RS256). The `email` claim names the user; a token
 * whose email the issuer says is unverified is refused. A token that fails verification is
 * `undefined` (401); keys that cannot be fetched are AUTHZ_UNAVAILABLE (503), logged: the
 * caller may well hold a good token.
 */
export async function createJwtVerifier(config: NonNullable<Config["jwt"]>): Promise<JwtVerifier> {
  const key = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl))
    : await importSPKI(config.publicKeyPem ?? "", config.algorithm);
  return async (token, logger) => {
    // With a PEM key, only its algorithm: a token of another would fail on the key (an error
    // that is no outage) instead of as the bad token it is.
    const algorithms = config.jwksUrl ? {} : { algorithms: [config.algorithm] };
    const payload = await verifyJwt(token, key, { issuer: config.issuer, audience: config.audience, ...algorithms }, logger, config.jwksUrl);
    return payload && identityOf(payload);
  };
}

export type JwtKey = Parameters<typeof jwtVerify>[1];

/**
 * The token's payload when `key` verifies it under `options`; undefined for a bad token (401);
 * AUTHZ_UNAVAILABLE (503, logged) when the keys cannot be fetched. Shared by the platform's
 * verifier and the organizations' SSO connections (modules/sso).
 */
export async function verifyJwt(token: string, key: JwtKey, options: JWTVerifyOptions, logger: Logger, jwksUrl: string | undefined): Promise<JWTPayload | undefined> {
  try {
    return (await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], options)).payload;
  } catch (error) {
    if (BAD_TOKEN.has((error as { code?: string }).code ?? "")) return undefined;
    logger.error({ err: error, jwksUrl }, "the issuer's keys (JWKS) could not be fetched: OIDC tokens cannot be verified");
    throw authzUnavailable();
  }
}

/** The email (required, lower-cased; refused when the issuer says it is unverified) and subject of a verified payload. */
export function identityOf(payload: JWTPayload): { email: string; subject: string; emailVerified: boolean } | undefined {
  const email = typeof payload.email === "string" ? payload.email.trim().toLowerCase() : "";
  if (!email || payload.email_verified === false || !payload.sub) return undefined;
  return { email, subject: payload.sub, emailVerified: payload.email_verified === true };
}
