import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

let app: TestApp;
let org: SeededOrg;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
});
afterAll(() => app?.close());

const createTeam = `mutation($org: ID!, $name: String!) { createTeam(organizationId: $org, name: $name) { id name } }`;
const teamCount = async () => Number((await app.orgraph.deps.db.selectFrom("teams").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);

describe("bad input gets a clear error, and nothing changes", () => {
  it.each([
    ["an empty name", ""],
    ["a blank name", "   "],
    ["an over-long name", "x".repeat(101)],
    ["a name with control characters", "evil\u0000name"],
    ["a name with an unpaired surrogate", "bad\ud800name"],
  ])("%s is BAD_USER_INPUT", async (_label, name) => {
    const before = await teamCount();
    const result = await app.gql(org.admin.key, createTeam, { org: org.orgId, name });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors?.[0]?.message).toMatch(/team name/);
    expect(await teamCount()).toBe(before);
  });

  it("names are trimmed, and unicode is welcome", async () => {
    const result = await app.ok(org.admin.key, createTeam, { org: org.orgId, name: "  Équipe 🚀 推理  " });
    expect(result.createTeam.name).toBe("Équipe 🚀 推理");
  });

  it("a duplicate team name in the same organization is a CONFLICT; in another organization it is fine", async () => {
    await app.ok(org.admin.key, createTeam, { org: org.orgId, name: "Research" });
    const before = await teamCount();
    const result = await app.gql(org.admin.key, createTeam, { org: org.orgId, name: "Research" });
    expect(codes(result)).toEqual(["CONFLICT"]);
    expect(result.errors?.[0]?.message).toContain("Research");
    expect(await teamCount()).toBe(before);
    const other = await app.seed.org("Other");
    await app.ok(other.admin.key, createTeam, { org: other.orgId, name: "Research" });
    // Renaming onto an existing name is a CONFLICT too.
    const teamId = (await app.ok(org.admin.key, createTeam, { org: org.orgId, name: "Staging" })).createTeam.id;
    const rename = await app.gql(org.admin.key, `mutation($id: ID!) { renameTeam(id: $id, name: "Research") { id } }`, { id: teamId });
    expect(codes(rename)).toEqual(["CONFLICT"]);
  });

  it.each([
    ["a malformed id", "not-an-id"],
    ["an id of the wrong type", "usr_0000000000000000000000000000"],
    ["an empty id", ""],
    ["a huge id", "org_" + "0".repeat(100_000)],
  ])("%s is BAD_USER_INPUT", async (_label, id) => {
    expect(codes(await app.gql(org.admin.key, createTeam, { org: id, name: "T" }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await app.gql(org.admin.key, `query($id: ID!) { team(id: $id) { id } }`, { id }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("an unknown but well-formed id is NOT_FOUND", async () => {
    const unknownTeam = "team_0000000000000000000000000000";
    expect(codes(await app.gql(org.admin.key, `query($id: ID!) { team(id: $id) { id } }`, { id: unknownTeam }))).toEqual(["NOT_FOUND"]);
    expect(codes(await app.gql(org.admin.key, `mutation($id: ID!) { deleteTeam(id: $id) }`, { id: unknownTeam }))).toEqual(["NOT_FOUND"]);
    const unknownUser = "usr_0000000000000000000000000000";
    const add = await app.gql(org.admin.key, `mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, principalId: $u, role: MEMBER) { role } }`, {
      t: org.defaultTeamId,
      u: unknownUser,
    });
    expect(codes(add)).toEqual(["BAD_USER_INPUT"]);
  });

  it.each(["not-an-email", "a@b", "two@@example.test", "sp ace@example.test", `${"x".repeat(250)}@example.test`])(
    "the email %s is BAD_USER_INPUT",
    async (email) => {
      const result = await app.gql(org.admin.key, `mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }`, {
        input: { organizationId: org.orgId, email, role: "MEMBER" },
      });
      expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    },
  );

  it.each([
    ["an unknown field", `{ viewer { nope } }`],
    ["a syntax error", `{ viewer {`],
    ["an unknown argument", `{ viewer { teams(x: 1) { id } } }`],
    ["an unknown enum value", `mutation { setOrgRole(organizationId: "org_0000000000000000000000000000", userId: "usr_0000000000000000000000000000", role: OWNER) { role } }`],
  ])("%s is BAD_USER_INPUT", async (_label, query) => {
    expect(codes(await app.gql(org.admin.key, query))).toEqual(["BAD_USER_INPUT"]);
  });

  it("a variable of the wrong type is BAD_USER_INPUT", async () => {
    const result = await app.gql(org.admin.key, `query($id: ID!) { team(id: $id) { id } }`, { id: { nested: true } });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
  });

  it("page sizes outside 1–100 and backward paging are BAD_USER_INPUT", async () => {
    for (const args of ["first: 0", "first: 101", "first: -1", `last: 5`]) {
      const result = await app.gql(org.admin.key, `query($id: ID!) { organization(id: $id) { teams(${args}) { edges { cursor } } } }`, { id: org.orgId });
      expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("viewerPermissions on a kind without permissions is BAD_USER_INPUT", async () => {
    expect(codes(await app.gql(org.admin.key, `query($id: ID!) { viewerPermissions(on: $id) }`, { id: org.admin.userId }))).toEqual(["BAD_USER_INPUT"]);
  });
});
