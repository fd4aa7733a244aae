import { readFileSync } from "node:fs";
import { buildSchema, findBreakingChanges } from "graphql";
import { describe, expect, it } from "vitest";
import { printedSchema } from "../src/graphql/schema.js";

const CONTRACT = new URL("../../shared/spec/contract.graphql", import.meta.url);
const PRINTED = new URL("../schema/schema.graphql", import.meta.url);

/**
 * Contract parts not built yet: the names appended to contract.graphql on 2026-11-25, which
 * the open issues build. The test fails if a gap appears that is not listed here, and if a
 * listed gap has been closed (so the list never goes stale): remove each name as it is built.
 */
const NOT_YET_BUILT = new Set<string>([
  "ScimToken",
  "CreateScimTokenPayload",
  "Mutation.createScimToken",
  "Mutation.revokeScimToken",
]);

describe("the GraphQL schema", () => {
  it("schema/schema.graphql is printed from the code (run `npm run schema:print`)", () => {
    expect(readFileSync(PRINTED, "utf8")).toBe(printedSchema());
  });

  it("matches contract.graphql, except the parts listed as not yet built", () => {
    const gaps = findBreakingChanges(buildSchema(readFileSync(CONTRACT, "utf8")), buildSchema(printedSchema()));
    const missing = gaps.map((gap) => gap.description.replace(/ was removed\.$/, ""));
    const unexpected = gaps.filter((gap, i) => !NOT_YET_BUILT.has(missing[i]!)).map((gap) => gap.description);
    expect(unexpected).toEqual([]);
    expect([...NOT_YET_BUILT].filter((name) => !missing.includes(name))).toEqual([]);
  });
});
