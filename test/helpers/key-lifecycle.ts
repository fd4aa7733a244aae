import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, expect } from "vitest";
import { codes, startTestApp, type GraphQLResponse, type SeededOrg, type TestApp } from "./app.js";
import { FaultyAuthz } from "./faulty-authz.js";
import { authorize } from "./gateway.js";

/** What test/key-lifecycle.test.ts and test/key-lifecycle-attacks.test.ts share: the app (SpiceDB faults injectable, OIDC configured) and small worlds. */
let app: TestApp;
let privateKey: CryptoKey;
export const faults = new FaultyAuthz();
const issuer = "https://idp.example.test/";
const audience = "orgraph";
export const GHOST_KEY = `key_${"0".repeat(28)}`;
export const DAY = 86_400_000;

export const createKey = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id expiresAt } } }`;
export const rotate = `mutation($id: ID!, $g: Int) { rotateApiKey(id: $id, graceSeconds: $g) {
  secret apiKey { id prefix keyKind type expiresAt lastUsedAt requestsPerMinute team { id } environments { id } models { id } } } }`;
export const setPolicy = `mutation($o: ID!, $m: Int, $r: Boolean!) { setKeyPolicy(organizationId: $o, maxLifetimeDays: $m, requireExpiry: $r) { id keyPolicy { maxLifetimeDays requireExpiry } } }`;
export const whoami = `{ viewer { principal { id } } }`;

export const oidcToken = (email: string) =>
  new SignJWT({ email, email_verified: true }).setProtectedHeader({ alg: "RS256" }).setSubject(`idp-${email}`).setIssuer(issuer).setAudience(audience).setExpirationTime("5m").sign(privateKey);

/** Does the secret authenticate on GraphQL? (UNAUTHENTICATED: no; anything else fails the test.) */
export async function alive(secret: string): Promise<boolean> {
  const result = await app.gql(secret, whoami);
  if (!result.errors) return true;
  expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
  return false;
}
/** The answer with `id` blanked, to compare an invisible target's answer with a nonexistent one's. */
export const normalized = (result: GraphQLResponse, id: string) =>
  JSON.stringify({ data: result.data ?? null, errors: (result.errors ?? []).map((e) => ({ code: e.extensions?.code, message: e.message.replaceAll(id, "<id>") })) });
export const keyRow = (id: string) => app.orgraph.deps.db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

export interface World {
  org: SeededOrg;
  team: string;
  env: string;
  restricted: string;
  model: string;
}

/** An organization with a team holding an open and a restricted environment and a model. */
export async function world(name: string): Promise<World> {
  const org = await app.seed.org(name);
  const team = await app.seed.team(org, "Serving");
  const call = (q: string, v: Record<string, unknown>) => app.ok(org.admin.key, q, v);
  const env = (await call(`mutation($t: ID!) { createEnvironment(teamId: $t, name: "staging") { id } }`, { t: team })).createEnvironment.id;
  const restricted = (await call(`mutation($t: ID!) { createEnvironment(teamId: $t, name: "vault", restricted: true) { id } }`, { t: team })).createEnvironment.id;
  const model = (await call(`mutation($t: ID!) { createModel(teamId: $t, name: "llama") { id } }`, { t: team })).createModel.id;
  return { org, team, env, restricted, model };
}

export async function teamKey(w: World, type: string, extra: Record<string, unknown> = {}) {
  return (await app.ok(w.org.admin.key, createKey, { i: { name: `${type} key`, teamId: w.team, type, ...extra } })).createApiKey as { secret: string; apiKey: { id: string; expiresAt: string | null } };
}

export async function serviceAccount(w: World, role = "MEMBER") {
  const data = await app.ok(w.org.admin.key, `mutation($t: ID!, $r: TeamRole!) { createServiceAccount(teamId: $t, name: "robot-${Math.random().toString(36).slice(2, 8)}", role: $r) { serviceAccount { id } apiKey { id expiresAt } secret } }`, { t: w.team, r: role });
  return data.createServiceAccount as { serviceAccount: { id: string }; apiKey: { id: string; expiresAt: string | null }; secret: string };
}

/** A member holding a custom role of `permissions` on the world's team. */
export async function customRoleHolder(w: World, permissions: string[]) {
  const member = await app.seed.member(w.org, "MEMBER", [], "custom");
  const role = (await app.ok(w.org.admin.key, `mutation($o: ID!, $p: [String!]!) { createRole(organizationId: $o, name: "keys-${Math.random().toString(36).slice(2, 8)}", permissions: $p) { id } }`, { o: w.org.orgId, p: permissions })).createRole.id;
  await app.ok(w.org.admin.key, `mutation($r: ID!, $t: ID!, $p: ID!) { assignRole(roleId: $r, teamId: $t, principalId: $p) { role { id } } }`, { r: role, t: w.team, p: member.userId });
  return member;
}

export const invoke = (w: World, secret: string) => authorize(app, secret, { action: "model:invoke", team: w.team, model: "llama", environment: "staging" });


/** Starts the app for the file (closed after it) and hands it to the file. */
export function useKeyLifecycleApp(onStart: (app: TestApp) => void): void {
  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey as CryptoKey;
    app = await startTestApp({
      wrapAuthzClient: faults.wrap,
      env: { JWT_ISSUER: issuer, JWT_AUDIENCE: audience, JWT_PUBLIC_KEY: await exportSPKI(pair.publicKey), RATE_LIMIT_MUTATIONS_PER_MINUTE: "1000000" },
    });
    onStart(app);
  });
  afterAll(() => app?.close());
}
