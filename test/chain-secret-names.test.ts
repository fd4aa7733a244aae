import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 11, hole 8: a chain definition names the team's secrets (`{ "$secret": "NAME" }`).
 * PRODUCT.md gives secret names to team ADMIN/MEMBER (secrets:read_names) and to whoever may
 * edit the chain; everyone else reads the definition with every name replaced by null.
 */
let app: TestApp;
let org: SeededOrg;
let teamId: string;
let chainId: string;

const definition = { steps: [{ call: "llm", auth: { $secret: "OPENAI_KEY" } }, { call: "db", dsn: { $secret: "DB_URL" } }], note: "plain" };
const redacted = { steps: [{ call: "llm", auth: { $secret: null } }, { call: "db", dsn: { $secret: null } }], note: "plain" };
const readChain = `query($id: ID!) { node(id: $id) { ... on Chain { id definition } } }`;

const holders: Record<string, () => Promise<string>> = {};

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Agents");
  for (const name of ["OPENAI_KEY", "DB_URL"]) {
    await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { setSecret(teamId: $t, name: $n, value: "v") { name } }`, { t: teamId, n: name });
  }
  chainId = (await app.ok(org.admin.key, `mutation($t: ID!, $d: JSON) { createChain(teamId: $t, name: "bot", definition: $d) { id } }`, { t: teamId, d: definition }))
    .createChain.id;
  const teamMember = (role: "ADMIN" | "MEMBER" | "OPERATOR" | "VIEWER") => async () => (await app.seed.member(org, "MEMBER", [{ teamId, role }], role.toLowerCase())).key;
  const shared = (access: "VIEWER" | "RUNNER" | "EDITOR") => async () => {
    const guest = await app.seed.member(org, "MEMBER", [], `chain-${access.toLowerCase()}`);
    await app.ok(org.admin.key, `mutation($c: ID!, $u: ID!, $a: ChainAccess!) { shareChain(chainId: $c, userId: $u, access: $a) { id } }`, { c: chainId, u: guest.userId, a: access });
    return guest.key;
  };
  const teamKey = (type: "FULL_ACCESS" | "INFERENCE_ONLY" | "METRICS_ONLY") => async () =>
    (await app.ok(org.admin.key, `mutation($t: ID!, $type: ApiKeyType!) { createApiKey(input: { name: "k", teamId: $t, type: $type }) { secret } }`, { t: teamId, type }))
      .createApiKey.secret;
  Object.assign(holders, {
    "org ADMIN": async () => org.admin.key,
    "team ADMIN": teamMember("ADMIN"),
    "team MEMBER": teamMember("MEMBER"),
    "team OPERATOR": teamMember("OPERATOR"),
    "team VIEWER": teamMember("VIEWER"),
    "chain EDITOR": shared("EDITOR"),
    "chain RUNNER": shared("RUNNER"),
    "chain VIEWER": shared("VIEWER"),
    "FULL_ACCESS team key": teamKey("FULL_ACCESS"),
  });
});
afterAll(() => app?.close());

describe("secret names in Chain.definition (issue 11, hole 8)", () => {
  it.each(["org ADMIN", "team ADMIN", "team MEMBER", "chain EDITOR", "FULL_ACCESS team key"])("%s reads the secret names", async (who) => {
    const data = await app.ok(await holders[who]!(), readChain, { id: chainId });
    expect(data.node.definition).toEqual(definition);
  });

  it.each(["team OPERATOR", "team VIEWER", "chain RUNNER", "chain VIEWER"])("%s reads the definition with every secret name nulled", async (who) => {
    const data = await app.ok(await holders[who]!(), readChain, { id: chainId });
    expect(data.node.definition).toEqual(redacted);
    expect(JSON.stringify(data.node.definition)).not.toMatch(/OPENAI_KEY|DB_URL/);
  });
});
