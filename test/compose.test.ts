import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../src/config.js";

/**
 * docker-compose.yml and the Dockerfile, checked by reading them: there is no Docker engine
 * on our machines, so nothing here builds an image or starts a container. What reading can
 * catch: wiring (order, health, token), the API's configuration, variables without a value,
 * and files the image or the compose file need but that do not exist.
 */
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
const composeText = read("docker-compose.yml");
// Compose applies YAML merge keys (`<<:`), so the test does too.
const compose = parse(composeText, { merge: true });
const dockerfile = read("Dockerfile");

describe("docker-compose.yml, read, not run (no Docker engine here)", () => {
  it("declares Postgres, SpiceDB (migrate, then serve on the Postgres datastore), Redis and the API, in that order of dependence", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["api", "postgres", "redis", "spicedb", "spicedb-migrate"]);
    expect(compose.services.api.depends_on.redis.condition).toBe("service_healthy");
    expect(compose.services["spicedb-migrate"].command).toBe("datastore migrate head");
    expect(compose.services.spicedb.command).toBe("serve");
    expect(compose.services.spicedb.environment.SPICEDB_DATASTORE_ENGINE).toBe("postgres");
    expect(compose.services.spicedb.depends_on["spicedb-migrate"].condition).toBe("service_completed_successfully");
    expect(compose.services.api.depends_on.spicedb.condition).toBe("service_healthy");
  });

  it("every dependency on a healthy service names a service that declares a healthcheck, and the API declares one on /readyz", () => {
    for (const [name, service] of Object.entries<any>(compose.services)) {
      for (const [dependency, { condition }] of Object.entries<any>(service.depends_on ?? {})) {
        if (condition === "service_healthy") expect({ name, dependency, healthcheck: Boolean(compose.services[dependency].healthcheck?.test) }).toEqual({ name, dependency, healthcheck: true });
      }
    }
    expect(JSON.stringify(compose.services.api.healthcheck.test)).toContain("/readyz");
  });

  it("every ${VAR} has a default or is documented in the README's configuration table", () => {
    const readme = read("README.md");
    const variables = [...composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}/g)];
    expect(variables.length).toBeGreaterThan(0);
    for (const [, name, fallback] of variables) {
      expect({ name, defaulted: Boolean(fallback) || readme.includes(`| \`${name}\``) }).toEqual({ name, defaulted: true });
    }
  });

  it("the files it mounts exist, and the init script creates the database SpiceDB's datastore points at", () => {
    const mounts = Object.values<any>(compose.services).flatMap((s) => (s.volumes ?? []) as string[]).filter((v) => v.startsWith("./"));
    expect(mounts.length).toBeGreaterThan(0);
    for (const mount of mounts) expect({ mount, exists: existsSync(new URL(`../${mount.split(":")[0]}`, import.meta.url)) }).toEqual({ mount, exists: true });
    const database = new URL(compose.services.spicedb.environment.SPICEDB_DATASTORE_CONN_URI).pathname.slice(1);
    expect(read("docker/postgres-init.sql")).toMatch(new RegExp(`create database ${database}`, "i"));
  });

  it("gives the API a configuration Orgraph accepts, pointing at the compose services", () => {
    const env = Object.fromEntries(
      Object.entries(compose.services.api.environment as Record<string, string>).map(([k, v]) => [k, v.replace(/\$\{[A-Z_]+:-([^}]*)\}/, "$1")]),
    );
    const config = loadConfig(env);
    expect(config.databaseUrl).toContain("@postgres:5432/");
    expect(config.spicedb).toEqual({ kind: "remote", endpoint: "spicedb:50051", token: "change-me-spicedb-token", tls: false });
    expect(compose.services.spicedb.environment.SPICEDB_GRPC_PRESHARED_KEY).toBe(compose.services.api.environment.SPICEDB_TOKEN);
    // The rate-limit counters are shared by every API instance: in the compose file's Redis.
    expect(config.redisUrl).toBe("redis://redis:6379");
  });
});

describe("the API's image, from the Dockerfile (read, not built)", () => {
  it("compose builds the API from this folder's Dockerfile", () => {
    expect(compose.services.api.build).toBe(".");
    expect(existsSync(new URL("../Dockerfile", import.meta.url))).toBe(true);
  });

  it("copies what `npm start` needs at run time, every copied path exists, and it runs `npm start` on the port compose publishes", () => {
    const copied = [...dockerfile.matchAll(/^COPY\s+(.+?)\s+\S+\s*$/gm)].flatMap(([, sources]) => sources!.split(/\s+/));
    for (const needed of ["package.json", "package-lock.json", "tsconfig.json", "src", "spicedb"]) expect(copied).toContain(needed);
    for (const path of copied) expect({ path, exists: existsSync(new URL(`../${path}`, import.meta.url)) }).toEqual({ path, exists: true });
    expect(dockerfile).toMatch(/^CMD \["npm", "start"\]$/m);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${compose.services.api.environment.PORT}$`, "m"));
    expect(compose.services.api.ports).toContain(`${compose.services.api.environment.PORT}:${compose.services.api.environment.PORT}`);
    // tsx is how `npm start` runs TypeScript: a production install must keep it.
    expect(JSON.parse(read("package.json")).dependencies.tsx).toBeDefined();
  });
});
