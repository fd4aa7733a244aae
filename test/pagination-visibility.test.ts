import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * Issue 11, hole 6: a connection filtered by permissions must still return `first` visible
 * items when they exist, and hasNextPage must tell the truth, however many invisible rows
 * come first.
 */
let app: TestApp;
let org: SeededOrg;
let teamId: string;

beforeAll(async () => {
  app = await startTestApp();
  org = await app.seed.org();
  teamId = await app.seed.team(org, "Busy");
});
afterAll(() => app?.close());

interface Page {
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Every page of `field` on the team, `first` at a time. */
async function allPages(key: string, field: "models" | "chains", first: number): Promise<Page[]> {
  const pages: Page[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const data = await app.ok(key, `query($t: ID!, $n: Int!, $a: String) { team(id: $t) { ${field}(first: $n, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }`, {
      t: teamId,
      n: first,
      a: after,
    });
    const page = data.team[field] as Page;
    pages.push(page);
    if (!page.pageInfo.hasNextPage) return pages;
    after = page.pageInfo.endCursor;
  }
  throw new Error("paging did not end");
}

describe("filtered connections (issue 11, hole 6)", () => {
  it("a chain guest shared on chain #120 of 200 sees it on the first page, and hasNextPage is false", async () => {
    const chains: string[] = [];
    for (let i = 0; i < 200; i++) {
      chains.push((await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { createChain(teamId: $t, name: $n) { id } }`, { t: teamId, n: `chain-${i}` })).createChain.id);
    }
    const guest = await app.seed.member(org, "MEMBER", [], "guest");
    await app.ok(org.admin.key, `mutation($c: ID!, $u: ID!) { shareChain(chainId: $c, userId: $u, access: VIEWER) { id } }`, { c: chains[119], u: guest.userId });

    const pages = await allPages(guest.key, "chains", 10);
    expect(pages).toHaveLength(1);
    expect(pages[0]!.edges.map((e) => e.node.id)).toEqual([chains[119]]);
    expect(pages[0]!.pageInfo.hasNextPage).toBe(false);
  });

  it("paging a model-scoped key's models reaches every visible model exactly once; hasNextPage is false exactly at the end", async () => {
    const models: string[] = [];
    for (let i = 0; i < 60; i++) {
      models.push((await app.ok(org.admin.key, `mutation($t: ID!, $n: String!) { createModel(teamId: $t, name: $n) { id } }`, { t: teamId, n: `model-${i}` })).createModel.id);
    }
    // Seven models, far apart: most pages of raw rows hold none of them.
    const scoped = [3, 17, 18, 31, 44, 58, 59].map((i) => models[i]!);
    const key = (
      await app.ok(org.admin.key, `mutation($t: ID!, $m: [ID!]) { createApiKey(input: { name: "scoped", teamId: $t, type: FULL_ACCESS, modelIds: $m }) { secret } }`, {
        t: teamId,
        m: scoped,
      })
    ).createApiKey.secret;

    const pages = await allPages(key, "models", 2);
    expect(pages.map((p) => p.edges.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flatMap((p) => p.edges.map((e) => e.node.id))).toEqual(scoped);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, true, false]);
  });

  it("when the visible items fill pages exactly, the last full page says hasNextPage: false", async () => {
    const data = await app.ok(org.admin.key, `query($t: ID!) { team(id: $t) { models(first: 60) { edges { node { id } } pageInfo { hasNextPage } } } }`, { t: teamId });
    expect(data.team.models.edges).toHaveLength(60);
    expect(data.team.models.pageInfo.hasNextPage).toBe(false);
  });
});
