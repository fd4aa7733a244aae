import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededMember, type SeededOrg, type TestApp } from "./helpers/app.js";
import { authorize } from "./helpers/gateway.js";

/**
 * The tool policy as a YAML document (issue 14 §3): Keeptrusts' rbac block, bare or in a whole
 * Keeptrusts file, through setToolPolicyDocument over real HTTP, with every error at once and
 * line-numbered; and `npm run policy:lint` run as a child process.
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
let app: TestApp;
let org: SeededOrg;
let other: SeededOrg;
let teamId: string;
let analyst: SeededMember;
let clinician: SeededMember;
let analystRole: string;
let clinicianRole: string;
const dir = mkdtempSync(join(tmpdir(), "wt-tools-lint-"));

/** Keeptrusts' own example (its docs' "working runtime example"), verbatim but for the indentation the page lost. */
const KEEPTRUSTS = `policies:
  chain:
    - rbac

policy:
  rbac:
    deny_if_missing:
      - X-User-ID
      - X-User-Role
    require_auth: true
    roles:
      analyst:
        allowed_tools:
          - search
          - summarize
          - report_*
        denied_tools:
          - dangerous_*
      admin:
        allowed_tools:
          - "*"
        denied_tools: []
    data_access:
      analyst:
        max_sensitivity: confidential
      admin:
        max_sensitivity: restricted
    minimum_necessary:
      enabled: true
      allowed_phi_roles:
        - clinician
        - admin
`;

/** Four errors on lines 5, 6, 10 and 12 (and a YAML-valid rest). */
const BROKEN = `roles:
  MEMBER:
    allowed_tools:
      - search
      - "[abc"
    denied_tools: nope
  nobody:
    allowed_tools: [search]
data_access:
  MEMBER: { max_sensitivity: secret }
minimum_necessary:
  enabled: yes please
`;

const DOCUMENT = `mutation($t: ID!, $d: String!) { setToolPolicyDocument(teamId: $t, document: $d) { rules { role allowedTools deniedTools maxSensitivity } phiRoles document } }`;
const READ = `query($t: ID!) { team(id: $t) { toolPolicy { rules { role allowedTools deniedTools maxSensitivity } phiRoles document } } }`;
const setDocument = (document: string, key = org.admin.key) => app.gql(key, DOCUMENT, { t: teamId, d: document });
const ask = (key: string, fields: Record<string, unknown>) => authorize(app, key, { action: "model:invoke", team: teamId, model: "llm", environment: "prod", ...fields });

beforeAll(async () => {
  app = await startTestApp({ env: { RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000", RATE_LIMIT_AUTHORIZE_PER_SECOND: "1000000" } });
  org = await app.seed.org();
  other = await app.seed.org("Other");
  teamId = await app.seed.team(org, "Clinic");
  analyst = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }], "analyst");
  clinician = await app.seed.member(org, "MEMBER", [{ teamId, role: "OPERATOR" }], "clinician");
  await app.ok(org.admin.key, `mutation($t: ID!) { createModel(teamId: $t, name: "llm") { id } }`, { t: teamId });
  await app.ok(org.admin.key, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "prod") { id } }`, { t: teamId });
  const role = async (o: SeededOrg, name: string) =>
    (await app.ok(o.admin.key, `mutation($o: ID!, $n: String!) { createRole(organizationId: $o, name: $n, permissions: ["team:view"]) { id } }`, { o: o.orgId, n: name })).createRole.id as string;
  analystRole = await role(org, "analyst");
  clinicianRole = await role(org, "clinician");
  await role(other, "auditor");
  const assign = (r: string, p: string) => app.ok(org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r, t: teamId, p });
  await assign(analystRole, analyst.userId);
  await assign(clinicianRole, clinician.userId);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await app?.close();
});

describe("setToolPolicyDocument", () => {
  it("accepts Keeptrusts' own example file: custom roles by name, built-ins in any case, header keys ignored", async () => {
    const result = await setDocument(KEEPTRUSTS);
    expect(codes(result)).toEqual([]);
    const policy = result.data!.setToolPolicyDocument;
    expect(policy.rules).toEqual([
      { role: "ADMIN", allowedTools: ["*"], deniedTools: [], maxSensitivity: "RESTRICTED" },
      { role: analystRole, allowedTools: ["search", "summarize", "report_*"], deniedTools: ["dangerous_*"], maxSensitivity: "CONFIDENTIAL" },
    ]);
    expect(policy.phiRoles).toEqual(["ADMIN", clinicianRole]);
    expect((await ask(analyst.key, { tool: "report_weekly", sensitivity: "confidential" })).body).toEqual({ allowed: true, rule: "custom role analyst allows report_*; custom role analyst reaches CONFIDENTIAL" });
    expect((await ask(analyst.key, { tool: "dangerous_drop" })).body.rule).toBe("custom role analyst denies dangerous_*");
    expect((await ask(analyst.key, { tool: "search", sensitivity: "restricted" })).status).toBe(403);
    expect((await ask(analyst.key, { tool: "search", phi: true })).body.rule).toBe("minimum necessary: no role of the caller may touch PHI (roles: role OPERATOR, custom role analyst)");
    // The clinician may touch PHI, but has no tool rule: no tools.
    expect((await ask(clinician.key, { phi: true })).body).toEqual({ allowed: true, rule: "minimum necessary: custom role clinician may touch PHI" });
    expect((await ask(clinician.key, { tool: "search", phi: true })).status).toBe(403);
    expect((await ask(org.admin.key, { tool: "anything", sensitivity: "RESTRICTED", phi: true })).status).toBe(200);
  });

  it("the document shown is a bare rbac block that sets the same policy again", async () => {
    const before = (await app.ok(org.admin.key, READ, { t: teamId })).team.toolPolicy;
    expect(before.document).toBe(
      "roles:\n  ADMIN:\n    allowed_tools:\n      - \"*\"\n    denied_tools: []\n  analyst:\n    allowed_tools:\n      - search\n      - summarize\n      - report_*\n    denied_tools:\n      - dangerous_*\n" +
        "data_access:\n  ADMIN:\n    max_sensitivity: restricted\n  analyst:\n    max_sensitivity: confidential\nminimum_necessary:\n  enabled: true\n  allowed_phi_roles:\n    - ADMIN\n    - clinician\n",
    );
    expect(codes(await setDocument(before.document))).toEqual([]);
    expect((await app.ok(org.admin.key, READ, { t: teamId })).team.toolPolicy).toEqual(before);
  });

  it("a custom role named like a built-in is shown by id, so the document still sets the same policy", async () => {
    const admin = (await app.ok(org.admin.key, `mutation($o: ID!) { createRole(organizationId: $o, name: "Admin", permissions: ["team:view"]) { id } }`, { o: org.orgId })).createRole.id;
    await app.ok(org.admin.key, `mutation($t: ID!, $r: String!) { setToolPolicy(teamId: $t, role: $r, allowedTools: ["export"], deniedTools: []) { role } }`, { t: teamId, r: admin });
    const before = (await app.ok(org.admin.key, READ, { t: teamId })).team.toolPolicy;
    expect(before.document).toContain(`  ${admin}:\n    allowed_tools:\n      - export\n`);
    expect(codes(await setDocument(before.document))).toEqual([]);
    expect((await app.ok(org.admin.key, READ, { t: teamId })).team.toolPolicy).toEqual(before);
    await app.ok(org.admin.key, `mutation($r: ID!) { deleteRole(id: $r) }`, { r: admin });
    // Its rule went with it (the rows reference the role).
    expect((await app.ok(org.admin.key, READ, { t: teamId })).team.toolPolicy.rules.map((r: { role: string }) => r.role)).not.toContain(admin);
  });

  it("reports every error at once, each with its line and column, and changes nothing", async () => {
    const before = (await app.ok(org.admin.key, READ, { t: teamId })).team.toolPolicy;
    const result = await setDocument(BROKEN);
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.message).toBe(
      "document: 5 errors: " +
        'line 5, column 9: rbac.roles.MEMBER.allowed_tools[1]: "[abc" is not a valid glob (only letters, digits, _ . : - and the wildcards * and ?); ' +
        "line 6, column 19: rbac.roles.MEMBER.denied_tools must be a list; " +
        'line 7, column 3: unknown role "nobody": not a built-in role, an API key type or a custom role of the organization; ' +
        "line 10, column 30: rbac.data_access.MEMBER.max_sensitivity: must be one of public, internal, confidential, restricted; " +
        "line 12, column 12: rbac.minimum_necessary.enabled: must be true or false",
    );
    expect((await app.ok(org.admin.key, READ, { t: teamId })).team.toolPolicy).toEqual(before);
  });

  it("YAML syntax errors, unknown keys, another org's role names and oversized documents are refused with positions", async () => {
    const syntax = await setDocument("roles:\n  MEMBER: [a\n");
    expect(syntax.errors![0]!.message).toMatch(/^document: \d+ errors?: line \d+, column \d+: /);
    const unknown = await setDocument("roles:\n  MEMBER:\n    allowed_tools: [a]\nrate_limits: {}\n");
    expect(unknown.errors![0]!.message).toBe("document: 1 error: line 4, column 1: rbac.rate_limits: unknown key (expected roles, data_access, minimum_necessary)");
    const foreign = await setDocument("roles:\n  auditor:\n    allowed_tools: [a]\n");
    expect(foreign.errors![0]!.message).toBe('document: 1 error: line 2, column 3: unknown role "auditor": not a built-in role, an API key type or a custom role of the organization');
    const huge = await setDocument(`roles:\n  MEMBER:\n    allowed_tools: [${"a,".repeat(40_000)}b]\n`);
    expect(huge.errors![0]!.message).toBe("document: 1 error: the document is over 65536 bytes");
    const phiOff = await setDocument("minimum_necessary:\n  enabled: true\n  allowed_phi_roles: []\n");
    expect(phiOff.errors![0]!.message).toBe("document: 1 error: line 3, column 22: rbac.minimum_necessary.allowed_phi_roles: name at least one role, or set enabled: false");
  });

  it("an empty document clears the policy: no role has tools", async () => {
    const cleared = await setDocument("");
    expect(cleared.data!.setToolPolicyDocument).toMatchObject({ rules: [], phiRoles: [] });
    expect((await ask(org.admin.key, { tool: "anything" })).status).toBe(403);
  });
});

describe("npm run policy:lint (as kt policy lint)", () => {
  const lint = async (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    try {
      const { stdout } = await run("npm", ["run", "-s", "policy:lint", "--", file], { cwd: ROOT });
      return { code: 0, lines: stdout.trim().split("\n").map((l) => l.replace(file, name)) };
    } catch (error) {
      const failed = error as { code: number; stdout: string };
      return { code: failed.code, lines: failed.stdout.trim().split("\n").map((l) => l.replace(file, name)) };
    }
  };

  it("Keeptrusts' example: exit 0, the header keys as warnings, a note on custom roles", async () => {
    expect(await lint("kt.yaml", KEEPTRUSTS)).toEqual({
      code: 0,
      lines: [
        "kt.yaml:7:5: warning: rbac.deny_if_missing is not applicable: Orgraph identifies the caller by its credential, not by headers; ignored",
        "kt.yaml:10:5: warning: rbac.require_auth is not applicable: Orgraph identifies the caller by its credential, not by headers; ignored",
        "kt.yaml: note: custom roles analyst, clinician cannot be resolved offline; setToolPolicyDocument resolves them in the team's organization",
        "kt.yaml: 0 errors, 2 warnings",
      ],
    });
  });

  it("a broken file: exit 1, one file:line:col line per error", async () => {
    const { code, lines } = await lint("broken.yaml", BROKEN);
    expect(code).toBe(1);
    expect(lines).toEqual([
      'broken.yaml:5:9: error: rbac.roles.MEMBER.allowed_tools[1]: "[abc" is not a valid glob (only letters, digits, _ . : - and the wildcards * and ?)',
      "broken.yaml:6:19: error: rbac.roles.MEMBER.denied_tools must be a list",
      "broken.yaml:10:30: error: rbac.data_access.MEMBER.max_sensitivity: must be one of public, internal, confidential, restricted",
      "broken.yaml:12:12: error: rbac.minimum_necessary.enabled: must be true or false",
      "broken.yaml: note: custom roles nobody cannot be resolved offline; setToolPolicyDocument resolves them in the team's organization",
      "broken.yaml: 4 errors, 0 warnings",
    ]);
  });

  it("a clean bare block with built-ins only: exit 0, nothing but the summary", async () => {
    expect(await lint("ok.yaml", "roles:\n  member:\n    allowed_tools: [search]\ndata_access:\n  MEMBER:\n    max_sensitivity: INTERNAL\n")).toEqual({ code: 0, lines: ["ok.yaml: 0 errors, 0 warnings"] });
  });
});
