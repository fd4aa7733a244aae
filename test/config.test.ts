import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("configuration", () => {
  it("defaults to the embedded setup on port 4000 in ./.orgraph", () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir.endsWith(".orgraph")).toBe(true);
    expect(config.spicedb).toEqual({ kind: "embedded" });
    expect(config.jwt).toBeUndefined();
  });

  it("reads a remote SpiceDB with its token and TLS switch", () => {
    const config = loadConfig({ SPICEDB_ENDPOINT: "spicedb:50051", SPICEDB_TOKEN: "secret", SPICEDB_TLS: "false" });
    expect(config.spicedb).toEqual({ kind: "remote", endpoint: "spicedb:50051", token: "secret", tls: false });
  });

  it.each([
    [{ PORT: "http" }, "PORT must be a port number"],
    [{ PORT: "70000" }, "PORT must be a port number"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL must start with postgres://"],
    [{ SPICEDB_ENDPOINT: "spicedb:50051" }, "SPICEDB_TOKEN is required"],
    [{ SPICEDB_ENDPOINT: "s:1", SPICEDB_TOKEN: "t", SPICEDB_TLS: "maybe" }, "SPICEDB_TLS must be true or false"],
    [{ JWT_ISSUER: "https://idp/" }, "JWT_ISSUER and JWT_AUDIENCE are both required"],
    [{ JWT_ISSUER: "i", JWT_AUDIENCE: "a" }, "set exactly one of JWT_JWKS_URL and JWT_PUBLIC_KEY"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL must be one of"],
    [{ ORGRAPH_SECRET_KEY: "c2hvcnQ=" }, "ORGRAPH_SECRET_KEY must be 32 bytes"],
    [{ INVITATION_LIFETIME_HOURS: "0" }, "INVITATION_LIFETIME_HOURS must be a positive whole number"],
    [{ INVITATION_LINK: "https://console.example/join" }, "INVITATION_LINK must contain {token}"],
    [{ SMTP_URL: "mail.example:25" }, "SMTP_URL must start with smtp:// or smtps://"],
    [{ METRICS_TOKEN: "short" }, "METRICS_TOKEN must be at least 16 characters"],
    [{ METRICS_TOKEN: "sixteen chars or more but spaced" }, "METRICS_TOKEN must be at least 16 characters, without spaces"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT must start with http:// or https://"],
    [{ REDIS_URL: "127.0.0.1:6379" }, "REDIS_URL must start with redis:// or rediss://"],
    [{ REDIS_URL: "redis://" }, "REDIS_URL must start with redis:// or rediss:// and name a host"],
    // setTimeout takes at most 2^31 - 1 ms: beyond, every request in line would time out at once.
    [{ GRAPHQL_QUEUE_MS: "2147483648" }, "GRAPHQL_QUEUE_MS must be a whole number of milliseconds from 1 to 60000"],
    [{ GRAPHQL_QUEUE_MS: "60001" }, "GRAPHQL_QUEUE_MS must be a whole number of milliseconds from 1 to 60000"],
    [{ GRAPHQL_MAX_QUEUED_PER_CLIENT: "0" }, "GRAPHQL_MAX_QUEUED_PER_CLIENT must be a positive whole number"],
    // Node checks its timeouts every connectionsCheckingInterval: 1 ms would be a busy loop.
    [{ HTTP_HEADERS_TIMEOUT_MS: "1" }, "HTTP_HEADERS_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 600000"],
    [{ HTTP_REQUEST_TIMEOUT_MS: "999" }, "HTTP_REQUEST_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 600000"],
    [{ HTTP_REQUEST_TIMEOUT_MS: "2147483648" }, "HTTP_REQUEST_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 600000"],
  ])("refuses %j with a clear message", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("reads the invitations' lifetime, link and mail transport (none by default: tokens go to the inviter)", () => {
    expect(loadConfig({}).mail).toBeUndefined();
    const config = loadConfig({ INVITATION_LIFETIME_HOURS: "24", SMTP_URL: "smtps://u:p@mail.example:465", INVITATION_LINK: "https://c.example/join?t={token}" });
    expect(config.invitations).toEqual({ lifetimeHours: 24, linkTemplate: "https://c.example/join?t={token}" });
    expect(config.mail).toEqual({ smtpUrl: "smtps://u:p@mail.example:465", from: "Orgraph <no-reply@localhost>" });
  });

  it("reads METRICS_TOKEN (none by default: /metrics for this host only)", () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: "0123456789abcdef0123" }).metricsToken).toBe("0123456789abcdef0123");
  });

  it("turns tracing on with OTEL_EXPORTER_OTLP_ENDPOINT only (a traces-only endpoint alone does not)", () => {
    expect(loadConfig({}).tracing).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }).tracing).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }).tracing).toBe(true);
  });

  it("reads REDIS_URL (none by default: the gateway's limits are counted in each process)", () => {
    expect(loadConfig({}).redisUrl).toBeUndefined();
    expect(loadConfig({ REDIS_URL: "rediss://user:pw@redis.internal:6380/2" }).redisUrl).toBe("rediss://user:pw@redis.internal:6380/2");
  });

  it("bounds the admission gate and the HTTP timeouts (the bounds themselves accepted); one client's places in line default to a quarter of the line", () => {
    const config = loadConfig({ GRAPHQL_QUEUE_MS: "60000", HTTP_HEADERS_TIMEOUT_MS: "1000", HTTP_REQUEST_TIMEOUT_MS: "600000" });
    expect(config.admission.queueMs).toBe(60_000);
    expect(config.http).toEqual({ headersTimeoutMs: 1000, requestTimeoutMs: 600_000 });
    expect(loadConfig({}).admission.maxQueuedPerClient).toBe(16);
    expect(loadConfig({ GRAPHQL_MAX_QUEUED: "5" }).admission.maxQueuedPerClient).toBe(2);
    expect(loadConfig({ GRAPHQL_MAX_QUEUED: "0" }).admission.maxQueuedPerClient).toBe(1);
    expect(loadConfig({ GRAPHQL_MAX_QUEUED_PER_CLIENT: "64" }).admission.maxQueuedPerClient).toBe(64);
  });

  it("reads AUTHZ_CLOCK_SKEW_MS (5000 by default), from 0 to 60000 milliseconds", () => {
    expect(loadConfig({}).authzClockSkewMs).toBe(5000);
    expect(loadConfig({ AUTHZ_CLOCK_SKEW_MS: "0" }).authzClockSkewMs).toBe(0);
    expect(loadConfig({ AUTHZ_CLOCK_SKEW_MS: "60000" }).authzClockSkewMs).toBe(60000);
    for (const bad of ["-1", "60001", "1.5", "soon"]) expect(() => loadConfig({ AUTHZ_CLOCK_SKEW_MS: bad }), bad).toThrow(/AUTHZ_CLOCK_SKEW_MS/);
  });

  it("lists every problem at once", () => {
    expect(() => loadConfig({ PORT: "x", LOG_LEVEL: "loud" })).toThrow(/PORT[\s\S]*LOG_LEVEL/);
  });
});
