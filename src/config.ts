import { isIP } from "node:net";
import { resolve } from "node:path";

/** Everything Orgraph reads from its environment, validated once at start. */
export interface Config {
  port: number;
  /** Absent: embedded Postgres (PGlite) in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  spicedb: { kind: "embedded" } | { kind: "remote"; endpoint: string; token: string; tls: boolean };
  jwt: { issuer: string; audience: string; algorithm: string; jwksUrl?: string; publicKeyPem?: string } | undefined;
  logLevel: string;
  /** 32 bytes, base64: encrypts secret values. Absent: a key generated into `dataDir`. */
  secretKey: string | undefined;
  limits: { introspection: boolean; maxBodyBytes: number; mutationsPerMinute: number; authorizePerSecond: number };
  /**
   * GraphQL admission (http/admission.ts): operations executing at once, how many more wait
   * (first come, first served) and for how long, how many of those one client address may hold;
   * beyond any, 503 with Retry-After.
   */
  admission: { maxInFlight: number; maxQueued: number; maxQueuedPerClient: number; queueMs: number };
  /** Node's server timeouts: a request's headers, and the whole request, must arrive within these (slow clients are cut off). */
  http: { headersTimeoutMs: number; requestTimeoutMs: number };
  /** The security log's bound: newest rows kept per source (client address or principal) and overall. */
  securityLog: { maxPerSource: number; maxRows: number };
  /** Addresses or CIDRs of proxies whose X-Forwarded-For is believed (TRUST_PROXY, formerly TRUSTED_PROXIES; none by default). */
  trustedProxies: string[];
  /** How long requests keep being served after SIGTERM, while /readyz answers 503. */
  shutdownDrainMs: number;
  /** How far a remote SpiceDB's clock may lag Orgraph's: each relationship expiry ends cached answers at its instant and again this much later (consistency.ts). */
  authzClockSkewMs: number;
  invitations: {
    lifetimeHours: number;
    /** The link emailed to the invitee; `{token}` is replaced by the invitation's secret. */
    linkTemplate: string;
  };
  /** Absent: no mail transport; inviteMember returns the token for the inviter to deliver. */
  mail: { smtpUrl: string; from: string } | undefined;
  /** Bearer token GET /metrics requires. Absent: /metrics answers only a scraper on this host (metrics-endpoint.ts). */
  metricsToken: string | undefined;
  /**
   * On when OTEL_EXPORTER_OTLP_ENDPOINT is set: traces go there (observability/tracing.ts).
   * The OpenTelemetry SDK reads the other OTEL_* variables (protocol, headers, sampler) itself.
   */
  tracing: boolean;
  /**
   * Where the gateway's rate-limit and budget counters live, shared by every API process
   * (modules/gateway/limits.ts). Absent: each process counts in its own memory.
   */
  redisUrl: string | undefined;
  /**
   * Organizations' SSO connections (issue 16 §1): their JWKS is fetched by this server, so a
   * jwksUrl must be https unless SSO_JWKS_ALLOW_HTTP (tests, a local IdP) allows http.
   */
  sso: { allowHttpJwks: boolean };
  /**
   * The URL clients reach this API at (PUBLIC_URL), published as the AuthZEN PDP identifier in
   * GET /.well-known/authzen-configuration. Absent: the origin each request was addressed to.
   */
  publicUrl: string | undefined;
}

export class ConfigError extends Error {}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];

  const port = Number(env.PORT ?? "4000");
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT must be a port number, got "${env.PORT}"`);

  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push("DATABASE_URL must start with postgres:// or postgresql://");
  }

  let spicedb: Config["spicedb"] = { kind: "embedded" };
  if (env.SPICEDB_ENDPOINT) {
    if (!env.SPICEDB_TOKEN) problems.push("SPICEDB_TOKEN is required with SPICEDB_ENDPOINT");
    const tls = parseBoolean(env.SPICEDB_TLS ?? "true");
    if (tls === undefined) problems.push(`SPICEDB_TLS must be true or false, got "${env.SPICEDB_TLS}"`);
    spicedb = { kind: "remote", endpoint: env.SPICEDB_ENDPOINT, token: env.SPICEDB_TOKEN ?? "", tls: tls ?? true };
  }

  let jwt: Config["jwt"];
  if (env.JWT_ISSUER || env.JWT_AUDIENCE || env.JWT_JWKS_URL || env.JWT_PUBLIC_KEY) {
    if (!env.JWT_ISSUER || !env.JWT_AUDIENCE) problems.push("JWT_ISSUER and JWT_AUDIENCE are both required for OIDC tokens");
    if (!env.JWT_JWKS_URL === !env.JWT_PUBLIC_KEY) problems.push("set exactly one of JWT_JWKS_URL and JWT_PUBLIC_KEY");
    jwt = {
      issuer: env.JWT_ISSUER ?? "",
      audience: env.JWT_AUDIENCE ?? "",
      algorithm: env.JWT_ALGORITHM ?? "RS256",
      ...(env.JWT_JWKS_URL ? { jwksUrl: env.JWT_JWKS_URL } : {}),
      ...(env.JWT_PUBLIC_KEY ? { publicKeyPem: env.JWT_PUBLIC_KEY } : {}),
    };
  }

  const logLevel = env.LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);

  const secretKey = env.ORGRAPH_SECRET_KEY || undefined;
  if (secretKey && Buffer.from(secretKey, "base64").length !== 32) {
    problems.push("ORGRAPH_SECRET_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)");
  }

  const positive = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value <= 0) problems.push(`${name} must be a positive whole number, got "${env[name]}"`);
    return value;
  };
  const introspection = parseBoolean(env.GRAPHQL_INTROSPECTION ?? "true");
  if (introspection === undefined) problems.push(`GRAPHQL_INTROSPECTION must be true or false, got "${env.GRAPHQL_INTROSPECTION}"`);
  const limits = {
    introspection: introspection ?? true,
    maxBodyBytes: positive("MAX_BODY_BYTES", 1_000_000),
    mutationsPerMinute: positive("RATE_LIMIT_MUTATIONS_PER_MINUTE", 600),
    authorizePerSecond: positive("RATE_LIMIT_AUTHORIZE_PER_SECOND", 5_000),
  };

  const wholeNumber = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 0) problems.push(`${name} must be a whole number (0 or more), got "${env[name]}"`);
    return value;
  };
  const between = (name: string, fallback: number, min: number, max: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < min || value > max) problems.push(`${name} must be a whole number of milliseconds from ${min} to ${max}, got "${env[name]}"`);
    return value;
  };
  const maxQueued = wholeNumber("GRAPHQL_MAX_QUEUED", 64);
  const admission = {
    maxInFlight: positive("GRAPHQL_MAX_IN_FLIGHT", 8),
    maxQueued,
    // A quarter of the line by default: one address (a pipelining connection, a script) cannot fill it.
    maxQueuedPerClient: positive("GRAPHQL_MAX_QUEUED_PER_CLIENT", Math.max(1, Math.ceil(maxQueued / 4))),
    // A minute at most: setTimeout overflows past 2^31 - 1 ms (every wait would end at once).
    queueMs: between("GRAPHQL_QUEUE_MS", 2000, 1, 60_000),
  };
  // At least a second (Node checks them every second); at most ten minutes.
  const http = { headersTimeoutMs: between("HTTP_HEADERS_TIMEOUT_MS", 10_000, 1000, 600_000), requestTimeoutMs: between("HTTP_REQUEST_TIMEOUT_MS", 30_000, 1000, 600_000) };
  // Node refuses a headers timeout above the request timeout (it would never apply).
  if (http.headersTimeoutMs > http.requestTimeoutMs) problems.push("HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS");

  const securityLog = { maxPerSource: positive("SECURITY_LOG_MAX_PER_SOURCE", 1_000), maxRows: positive("SECURITY_LOG_MAX_ROWS", 100_000) };

  // TRUST_PROXY is the name issue 14 gave it; TRUSTED_PROXIES, the older one, is still read.
  const proxyList = (value: string | undefined) => (value ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  const trustedProxies = proxyList(env.TRUST_PROXY ?? env.TRUSTED_PROXIES);
  if (env.TRUST_PROXY !== undefined && env.TRUSTED_PROXIES !== undefined && proxyList(env.TRUST_PROXY).join(",") !== proxyList(env.TRUSTED_PROXIES).join(",")) {
    problems.push("TRUST_PROXY and TRUSTED_PROXIES (its older name) are both set, to different lists: set only TRUST_PROXY");
  }
  for (const proxy of trustedProxies) {
    const [address = "", bits, ...rest] = proxy.split("/");
    const max = isIP(address) === 6 ? 128 : 32;
    if (!isIP(address) || rest.length > 0 || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))) {
      problems.push(`${env.TRUST_PROXY !== undefined ? "TRUST_PROXY" : "TRUSTED_PROXIES"} must be IP addresses or CIDRs, separated by commas; got "${proxy}"`);
    }
  }

  const shutdownDrainMs = Number(env.SHUTDOWN_DRAIN_MS ?? 1000);
  if (!Number.isInteger(shutdownDrainMs) || shutdownDrainMs < 0) problems.push(`SHUTDOWN_DRAIN_MS must be a whole number of milliseconds, got "${env.SHUTDOWN_DRAIN_MS}"`);

  const authzClockSkewMs = Number(env.AUTHZ_CLOCK_SKEW_MS ?? 5000);
  if (!Number.isInteger(authzClockSkewMs) || authzClockSkewMs < 0 || authzClockSkewMs > 60_000) {
    problems.push(`AUTHZ_CLOCK_SKEW_MS must be a whole number of milliseconds from 0 to 60000, got "${env.AUTHZ_CLOCK_SKEW_MS}"`);
  }

  const invitations = {
    lifetimeHours: positive("INVITATION_LIFETIME_HOURS", 7 * 24),
    linkTemplate: env.INVITATION_LINK ?? `http://localhost:${port}/accept-invitation?token={token}`,
  };
  if (!invitations.linkTemplate.includes("{token}")) problems.push("INVITATION_LINK must contain {token}");
  let mail: Config["mail"];
  if (env.SMTP_URL) {
    if (!/^smtps?:\/\//.test(env.SMTP_URL)) problems.push("SMTP_URL must start with smtp:// or smtps://");
    mail = { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM ?? "Orgraph <no-reply@localhost>" };
  }

  const metricsToken = env.METRICS_TOKEN || undefined;
  if (metricsToken && !/^\S{16,}$/.test(metricsToken)) problems.push("METRICS_TOKEN must be at least 16 characters, without spaces (openssl rand -hex 32)");

  const tracing = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (tracing && !/^https?:\/\//.test(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "")) problems.push("OTEL_EXPORTER_OTLP_ENDPOINT must start with http:// or https://");

  const publicUrl = env.PUBLIC_URL || undefined;
  if (publicUrl && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(publicUrl)) problems.push("PUBLIC_URL must be an http(s) URL without query or fragment");

  const redisUrl = env.REDIS_URL || undefined;
  if (redisUrl && !/^rediss?:\/\/[^\s/]/.test(redisUrl)) problems.push("REDIS_URL must start with redis:// or rediss:// and name a host (redis://127.0.0.1:6379)");

  const allowHttpJwks = parseBoolean(env.SSO_JWKS_ALLOW_HTTP ?? "false");
  if (allowHttpJwks === undefined) problems.push(`SSO_JWKS_ALLOW_HTTP must be true or false, got "${env.SSO_JWKS_ALLOW_HTTP}"`);
  const sso = { allowHttpJwks: allowHttpJwks ?? false };

  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n- ${problems.join("\n- ")}`);
  return { port, databaseUrl, dataDir: resolve(env.ORGRAPH_DATA_DIR ?? ".orgraph"), spicedb, jwt, logLevel, secretKey, limits, admission, http, securityLog, trustedProxies, shutdownDrainMs, authzClockSkewMs, invitations, mail, metricsToken, tracing, redisUrl, publicUrl, sso };
}

function parseBoolean(value: string): boolean | undefined {
  if (["true", "1", "yes"].includes(value.toLowerCase())) return true;
  if (["false", "0", "no"].includes(value.toLowerCase())) return false;
  return undefined;
}
