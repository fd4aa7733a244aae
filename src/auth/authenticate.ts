import { Authorizer, RequestSnapshot } from "../authz/authorizer.js";
import type { AppDeps } from "../context.js";
import { apiKeyBySecretHash } from "../modules/api-key/api-key.service.js";
import { ManagedEmailTaken, NoAccessGranted, signInThroughConnection } from "../modules/sso/sso-sign-in.service.js";
import { connectionOfToken, issuerOfToken, normalizeIssuer, verifySsoToken } from "../modules/sso/sso-verify.js";
import type { SsoConnection } from "../modules/sso/sso-verify.js";
import { findOrCreateUser, verifyAccount } from "../modules/user/user.service.js";
import { IpNotAllowedError, ipRefusalRecorder, refuseKeyFromOutside, type RequestOrigin } from "./ip-refusal.js";
import type { JwtVerifier } from "./jwt.js";
import { subjectOf, type Principal } from "./principal.js";
import { hashSecret, parseSecret } from "./secrets.js";

export class AuthenticationError extends Error {}
export { IpNotAllowedError };

/**
 * `Authorization: Bearer <credential>` → the principal, undefined when no credential is
 * given, and the request's Authorizer acting as it. A credential that is present but wrong (unknown, revoked, expired, bad signature)
 * is an AuthenticationError: it is never treated as anonymous.
 *
 * With `origin` (where the request comes from), every check of the Authorizer carries the
 * caller's address for the IP allowlists, and a key bound to a team that refuses the address
 * is refused here (IpNotAllowedError). Without it (/v1/authorize, whose address may be in the
 * body), the caller adds it: `authz.withContext`, then refuseKeyFromOutside.
 */
export async function authenticateRequest(
  deps: AppDeps,
  jwt: JwtVerifier | undefined,
  header: string | null,
  origin?: RequestOrigin,
): Promise<{ principal: Principal | undefined; authz: Authorizer }> {
  // One snapshot for the request: the key cache and the permission checks use the same stamp.
  const snapshot = new RequestSnapshot(deps.consistency);
  const principal = await authenticate(deps, jwt, header, snapshot, origin?.requestId ?? null);
  const context = origin?.clientIp ? { clientIp: origin.clientIp } : {};
  const listener = origin && ipRefusalRecorder(deps, principal, origin);
  const authz = new Authorizer(deps, principal && subjectOf(principal), snapshot, context, listener);
  if (principal && origin) await refuseKeyFromOutside(deps, principal, authz, origin);
  return { principal, authz };
}

async function authenticate(deps: AppDeps, jwt: JwtVerifier | undefined, header: string | null, snapshot: RequestSnapshot, requestId: string | null): Promise<Principal | undefined> {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AuthenticationError("The Authorization header must be `Bearer <API key or token>`");
  const credential = match[1]!;
  const kind = parseSecret(credential);
  if (kind && kind !== "ogi") return authenticateApiKey(deps, credential, snapshot);
  if (credential.split(".").length === 3) {
    // The platform's issuer is the platform's, whatever the token's audiences: never routed to a
    // connection (one naming it, with a second audience the platform's tokens carry, would capture them).
    const issuer = issuerOfToken(credential);
    const platformIssuer = deps.config.jwt?.issuer;
    if (jwt && platformIssuer && issuer !== undefined && normalizeIssuer(issuer) === normalizeIssuer(platformIssuer)) return authenticateJwt(deps, jwt, credential);
    // An organization's own IdP (its SSO connection) when the token names one; else the platform's.
    const connection = await connectionOfToken(deps.db, credential);
    if (connection) return authenticateSso(deps, connection, credential, requestId);
    if (jwt) return authenticateJwt(deps, jwt, credential);
  }
  throw new AuthenticationError("Invalid credentials");
}

/**
 * Keys come from the stamped cache when no change was committed since they were read (a
 * revocation is a change: stamped-cache.ts); expiry is checked on every use.
 */
async function authenticateApiKey(deps: AppDeps, secret: string, snapshot: RequestSnapshot): Promise<Principal> {
  const hash = hashSecret(secret);
  const { stamp } = await snapshot.get();
  // Unknown secrets are not kept, so they cannot push real keys out of the cache.
  const key = await deps.caches.apiKeys.load(stamp, hash, () => apiKeyBySecretHash(deps.db, hash));
  const now = Date.now();
  // A rotated key's previous secret lives until its grace period ends (never past the key's
  // expiry, which is checked too), read from the row on every use: no cache keeps it longer.
  const previous = !!key && key.secret_hash !== hash;
  const live = (until: Date | null) => !until || until.getTime() > now;
  if (!key || key.revoked_at || !live(key.expires_at) || (previous && (key.previous_secret_hash !== hash || !key.previous_secret_expires_at || !live(key.previous_secret_expires_at)))) {
    throw new AuthenticationError("This API key is unknown, revoked or expired");
  }
  deps.keyLastUsed.add(key.id, new Date());
  const via = {
    method: "api_key" as const,
    keyId: key.id,
    ...(key.requests_per_minute !== null ? { requestsPerMinute: key.requests_per_minute } : {}),
    ...(previous ? { previousSecret: true as const } : {}),
  };
  if (key.kind === "PERSONAL") return { kind: "USER", id: key.user_id!, via };
  if (key.kind === "SERVICE_ACCOUNT") return { kind: "SERVICE_ACCOUNT", id: key.service_account_id!, teamId: key.team_id!, via };
  return { kind: "API_KEY", id: key.id, teamId: key.team_id!, via };
}

/**
 * A token of an organization's SSO connection signs in the account that organization manages
 * for its subject (never a platform account: modules/sso), reconciling its memberships there.
 */
async function authenticateSso(deps: AppDeps, connection: SsoConnection, token: string, requestId: string | null): Promise<Principal> {
  const identity = await verifySsoToken(connection, token, deps.logger);
  if (!identity || identity.email.length > 254) throw new AuthenticationError("Invalid or expired token");
  const user = await signInThroughConnection(deps, connection, identity, requestId).catch((error: unknown) => {
    // The token is valid (its holder is the IdP's user): it may learn that the IdP grants it nothing here.
    if (error instanceof NoAccessGranted) throw new AuthenticationError("Your organization's identity provider grants you no access here");
    if (!(error instanceof ManagedEmailTaken)) throw error;
    deps.logger.warn({ orgId: connection.org_id, issuer: connection.issuer }, "SSO sign-in refused: another account of this organization has the token's email");
    throw new AuthenticationError("Invalid or expired token");
  });
  return { kind: "USER", id: user.id, via: { method: "jwt", subject: identity.subject } };
}

/**
 * A valid token of a new email provisions its user on the spot (just-in-time); the first
 * token that says email_verified verifies an unverified account (user.service.ts).
 */
async function authenticateJwt(deps: AppDeps, verify: JwtVerifier, token: string): Promise<Principal> {
  const claims = await verify(token, deps.logger);
  if (!claims) throw new AuthenticationError("Invalid or expired token");
  const { user, created } = await deps.db
    .transaction()
    .execute((tx) => findOrCreateUser(tx, claims.email, { verified: claims.emailVerified }));
  if (created) await deps.outbox.flush();
  if (!user.verified_at && claims.emailVerified) await verifyAccount(deps, user.id);
  return { kind: "USER", id: user.id, via: { method: "jwt", subject: claims.subject } };
}
