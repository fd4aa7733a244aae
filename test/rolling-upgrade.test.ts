import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Every process writes spicedb/schema.zed at start (orgraph.ts), and several
 * processes may share one remote SpiceDB. During a rolling deploy, processes of the previous
 * version still check environment#deploy (no-escalation.ts ENVIRONMENT_GRANT = ["deploy"] at
 * e784530) for grantEnvironmentAccess, setEnvironmentRestricted(false) and removeTeamMember.
 * Once a new process has written its schema, that permission no longer exists: those
 * mutations fail (AUTHZ_UNAVAILABLE) on every old process until the rollout ends — and an old
 * process that restarts writes its schema back, failing the new processes' team_writer_in_scope.
 */
let app: TestApp;
let org: SeededOrg;
let envId: string;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  envId = (await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod", restricted: true) { id } }`, { t: org.defaultTeamId }))
    .createEnvironment.id;
});
afterAll(() => app?.close());

describe("a rolling deploy: the schema this version writes still answers the previous version's checks", () => {
  it("environment#deploy (checked by e784530's ENVIRONMENT_GRANT) is still a permission", async () => {
    const check = app.orgraph.deps.authzClient.checkBulk(
      [{ resource: { type: "environment", id: envId }, permission: "deploy", subject: { type: "user", id: org.admin.userId } }],
      { kind: "full" },
    );
    await expect(check).resolves.toEqual([true]);
  });
});
