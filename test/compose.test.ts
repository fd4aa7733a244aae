import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../src/config.js";

/**
 * Docker does not run on our machines, so docker-compose.yml cannot be brought up here; this
 * test keeps it wired correctly: SpiceDB migrates before it serves, the token matches, and the
 * API's environment passes Orgraph's own configuration check.
 */
// Compose applies YAML merge keys (`<<:`), so the test does too.
const compose = parse(readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8"), { merge: true });

describe("docker-compose.yml", () => {
  it("runs Postgres, SpiceDB (migrate, then serve on the Postgres datastore) and the API", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["api", "postgres", "spicedb", "spicedb-migrate"]);
    expect(compose.services["spicedb-migrate"].command).toBe("datastore migrate head");
    expect(compose.services.spicedb.command).toBe("serve");
    expect(compose.services.spicedb.environment.SPICEDB_DATASTORE_ENGINE).toBe("postgres");
    expect(compose.services.spicedb.depends_on["spicedb-migrate"].condition).toBe("service_completed_successfully");
    expect(compose.services.api.depends_on.spicedb.condition).toBe("service_healthy");
  });

  it("gives the API a configuration Orgraph accepts, pointing at the compose services", () => {
    const env = Object.fromEntries(
      Object.entries(compose.services.api.environment as Record<string, string>).map(([k, v]) => [k, v.replace(/\$\{[A-Z_]+:-([^}]*)\}/, "$1")]),
    );
    const config = loadConfig(env);
    expect(config.databaseUrl).toContain("@postgres:5432/");
    expect(config.spicedb).toEqual({ kind: "remote", endpoint: "spicedb:50051", token: "change-me-spicedb-token", tls: false });
    expect(compose.services.spicedb.environment.SPICEDB_GRPC_PRESHARED_KEY).toBe(compose.services.api.environment.SPICEDB_TOKEN);
  });
});
