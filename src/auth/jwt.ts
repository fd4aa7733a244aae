import { createRemoteJWKSet, importSPKI, jwtVerify, type JWTPayload } from "jose";
import type { Config } from "../config.js";

export type JwtVerifier = (token: string) => Promise<{ email: string; subject: string; emailVerified: boolean } | undefined>;

/**
 * Verifies OIDC JWTs against the configured issuer and audience, with keys from a JWKS URL
 * (fetched and cached by jose) or a PEM public key (JWT_ALGORITHM, default RS256). The `email` claim names the user; a token
 * whose email the issuer says is unverified is refused.
 */
export async function createJwtVerifier(config: NonNullable<Config["jwt"]>): Promise<JwtVerifier> {
  const key = config.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwksUrl))
    : await importSPKI(config.publicKeyPem ?? "", config.algorithm);
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], {
        issuer: config.issuer,
        audience: config.audience,
      }));
    } catch {
      return undefined;
    }
    const email = typeof payload.email === "string" ? payload.email.trim().toLowerCase() : "";
    if (!email || payload.email_verified === false || !payload.sub) return undefined;
    return { email, subject: payload.sub, emailVerified: payload.email_verified === true };
  };
}
