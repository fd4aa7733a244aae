import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type GraphQLResponse, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * PRODUCT.md §4 over every team resource operation: each role × each operation, allowed or
 * refused (FORBIDDEN for team members, NOT_FOUND for those who cannot see the team).
 */
type Role = "ORG_ADMIN" | "ADMIN" | "MEMBER" | "OPERATOR" | "VIEWER" | "OUTSIDER";
const ROLES: Role[] = ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER", "OUTSIDER"];

let app: TestApp;
let org: SeededOrg;
let teamId: string;
let envId: string;
let modelId: string;
let chainId: string;
const keys = {} as Record<Role, string>;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Inference");
  keys.ORG_ADMIN = org.admin.key;
  for (const role of ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"] as const) {
    keys[role] = (await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase())).key;
  }
  keys.OUTSIDER = (await app.seed.member(org, "MEMBER", [], "outsider")).key;
  const admin = org.admin.key;
  envId = (await app.ok(admin, `mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: teamId })).createEnvironment.id;
  modelId = (await app.ok(admin, `mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: teamId })).createModel.id;
  chainId = (await app.ok(admin, `mutation($t: ID!) { createChain(teamId: $t, name: "triage", definition: {steps: []}) { id } }`, { t: teamId })).createChain.id;
  await app.ok(admin, `mutation($t: ID!) { setSecret(teamId: $t, name: "HF_TOKEN", value: "hf_secret") { version } }`, { t: teamId });
  await app.ok(admin, `mutation($t: ID!) { createTrainingProject(teamId: $t, name: "finetune") { id } }`, { t: teamId });
});
afterAll(() => app?.close());

interface Operation {
  name: string;
  allowed: Role[];
  run(key: string): Promise<GraphQLResponse>;
}

const gql = (key: string, query: string, variables: Record<string, unknown>) => app.gql(key, query, variables);

const OPERATIONS: Operation[] = [
  // Creating and editing: ADMIN and MEMBER.
  { name: "createModel", allowed: ["ORG_ADMIN", "ADMIN", "MEMBER"], run: (k) => gql(k, `mutation($t: ID!, $n: String!) { createModel(teamId: $t, name: $n) { id } }`, { t: teamId, n: unique("m") }) },
  {
    name: "deployModel (unrestricted environment)",
    allowed: ["ORG_ADMIN", "ADMIN", "MEMBER"],
    run: (k) => gql(k, `mutation($t: ID!) { deployModel(input: { teamId: $t, modelName: "llama", environment: "staging", config: { replicas: 1 } }) { version } }`, { t: teamId }),
  },
  { name: "createChain", allowed: ["ORG_ADMIN", "ADMIN", "MEMBER"], run: (k) => gql(k, `mutation($t: ID!, $n: String!) { createChain(teamId: $t, name: $n) { id } }`, { t: teamId, n: unique("c") }) },
  { name: "updateChain", allowed: ["ORG_ADMIN", "ADMIN", "MEMBER"], run: (k) => gql(k, `mutation($c: ID!) { updateChain(id: $c, definition: { steps: [1] }) { id } }`, { c: chainId }) },
  { name: "createTrainingProject", allowed: ["ORG_ADMIN", "ADMIN", "MEMBER"], run: (k) => gql(k, `mutation($t: ID!, $n: String!) { createTrainingProject(teamId: $t, name: $n) { id } }`, { t: teamId, n: unique("p") }) },
  // Running: ADMIN, MEMBER, OPERATOR.
  { name: "runChain", allowed: ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR"], run: (k) => gql(k, `mutation($c: ID!) { runChain(id: $c, input: { q: 1 }) { status } }`, { c: chainId }) },
  // Deleting, secrets, environments: ADMIN only.
  {
    name: "deleteModel",
    allowed: ["ORG_ADMIN", "ADMIN"],
    run: async (k) => {
      const id = (await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { createModel(teamId: $t, name: $n) { id } }`, { t: teamId, n: unique("doomed") })).createModel.id;
      return gql(k, `mutation($id: ID!) { deleteModel(id: $id) }`, { id });
    },
  },
  {
    name: "deleteChain",
    allowed: ["ORG_ADMIN", "ADMIN"],
    run: async (k) => {
      const id = (await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { createChain(teamId: $t, name: $n) { id } }`, { t: teamId, n: unique("doomed") })).createChain.id;
      return gql(k, `mutation($id: ID!) { deleteChain(id: $id) }`, { id });
    },
  },
  { name: "setSecret", allowed: ["ORG_ADMIN", "ADMIN"], run: (k) => gql(k, `mutation($t: ID!) { setSecret(teamId: $t, name: "ROTATED", value: "v") { version } }`, { t: teamId }) },
  {
    name: "deleteSecret",
    allowed: ["ORG_ADMIN", "ADMIN"],
    run: async (k) => {
      const name = `DOOMED_${++counter}`;
      await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { setSecret(teamId: $t, name: $n, value: "v") { version } }`, { t: teamId, n: name });
      return gql(k, `mutation($t: ID!, $n: String!) { deleteSecret(teamId: $t, name: $n) }`, { t: teamId, n: name });
    },
  },
  { name: "createEnvironment", allowed: ["ORG_ADMIN", "ADMIN"], run: (k) => gql(k, `mutation($t: ID!, $n: String!) { createEnvironment(teamId: $t, name: $n) { id } }`, { t: teamId, n: unique("env") }) },
  { name: "setEnvironmentRestricted", allowed: ["ORG_ADMIN", "ADMIN"], run: (k) => gql(k, `mutation($e: ID!) { setEnvironmentRestricted(id: $e, restricted: false) { restricted } }`, { e: envId }) },
  {
    name: "grantEnvironmentAccess",
    allowed: ["ORG_ADMIN", "ADMIN"],
    run: (k) => gql(k, `mutation($e: ID!, $u: ID!) { grantEnvironmentAccess(environmentId: $e, principalId: $u) { id } }`, { e: envId, u: org.admin.userId }),
  },
  {
    name: "shareChain",
    allowed: ["ORG_ADMIN", "ADMIN"],
    run: (k) => gql(k, `mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: VIEWER) { id } }`, { c: chainId, u: org.admin.userId }),
  },
  // Reading: every role; secret names only ADMIN and MEMBER.
  {
    name: "read models, deployments, environments, chains, training projects",
    allowed: ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
    run: (k) =>
      gql(k, `query($t: ID!) { team(id: $t) { models { edges { node { name deployments { version } } } } environments { name } chains { edges { node { name runs { status } } } } trainingProjects { name } } }`, { t: teamId }),
  },
  { name: "read secret names", allowed: ["ORG_ADMIN", "ADMIN", "MEMBER"], run: (k) => gql(k, `query($t: ID!) { team(id: $t) { secrets { name version } } }`, { t: teamId }) },
];

describe("team resources by role (PRODUCT.md §4)", () => {
  const cases = OPERATIONS.flatMap((operation) => ROLES.map((role) => ({ operation, role, allowed: operation.allowed.includes(role) })));

  it.each(cases)("$role → $operation.name: allowed=$allowed", async ({ operation, role, allowed }) => {
    const result = await operation.run(keys[role]);
    const expected = allowed ? [] : [role === "OUTSIDER" ? "NOT_FOUND" : "FORBIDDEN"];
    expect(codes(result)).toEqual(expected);
  });
});

// Object-level permissions by role, through viewerPermissions (contract names).
const OBJECT_MATRIX: Record<string, Record<string, Role[]>> = {
  model: {
    "model:view": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
    "metrics:read": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
    "model:invoke": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR"],
    "model:edit": ["ORG_ADMIN", "ADMIN", "MEMBER"],
    "model:delete": ["ORG_ADMIN", "ADMIN"],
  },
  environment: {
    "environment:view": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
    "environment:invoke": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR"],
    "metrics:read": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
    "environment:manage": ["ORG_ADMIN", "ADMIN", "MEMBER"],
    "environment:manage_access": ["ORG_ADMIN", "ADMIN"],
  },
  chain: {
    "chain:view": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR", "VIEWER"],
    "chain:run": ["ORG_ADMIN", "ADMIN", "MEMBER", "OPERATOR"],
    "chain:edit": ["ORG_ADMIN", "ADMIN", "MEMBER"],
    "chain:delete": ["ORG_ADMIN", "ADMIN"],
  },
};

describe("viewerPermissions on models, environments and chains", () => {
  const idOf = (kind: string) => (kind === "model" ? modelId : kind === "environment" ? envId : chainId);
  const cases = Object.entries(OBJECT_MATRIX).flatMap(([kind, permissions]) =>
    ROLES.filter((r) => r !== "OUTSIDER").map((role) => ({
      kind,
      role,
      expected: Object.entries(permissions)
        .filter(([, holders]) => holders.includes(role))
        .map(([name]) => name)
        .sort(),
    })),
  );

  it.each(cases)("$role on a $kind holds exactly $expected", async ({ kind, role, expected }) => {
    const data = await app.ok(keys[role], `query($on: ID!) { viewerPermissions(on: $on) }`, { on: idOf(kind) });
    expect([...data.viewerPermissions].sort()).toEqual(expected);
  });

  it.each(["model", "environment", "chain"])("an outsider gets NOT_FOUND for a %s, through every entry point", async (kind) => {
    for (const query of [`query($on: ID!) { viewerPermissions(on: $on) }`, `query($on: ID!) { node(id: $on) { id } }`]) {
      expect(codes(await app.gql(keys.OUTSIDER, query, { on: idOf(kind) }))).toEqual(["NOT_FOUND"]);
    }
  });
});
