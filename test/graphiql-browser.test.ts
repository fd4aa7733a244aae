import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { parse, print } from "graphql";
import { chromium, type Browser, type Page, type Response } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * GraphiQL in a real browser (Debian's chromium, driven by playwright-core), with every
 * request to anything but this machine blocked and recorded: the page must render its editor
 * and run a query with nothing from the network, i.e. offline.
 */
const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = fileURLToPath(new URL("./artifacts/graphiql.png", import.meta.url));
const PLACEHOLDER = { Authorization: "Bearer <your API key>" };
const QUERY = "{ viewer { user { email } } }";

const QUERY_EDITOR = ".graphiql-query-editor .monaco-editor";
// The variables editor sits in the same section, hidden: they differ by their model's name.
const HEADERS_EDITOR = '.graphiql-editor-tool .monaco-editor[data-uri$="-request-headers.json"]';

let app: TestApp;
let org: SeededOrg;
let browser: Browser;

beforeAll(async () => {
  // CI installs the package (.ci/run); a missing browser fails the file, it is not skipped.
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
  app = await startTestApp();
  org = await app.seed.org();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

/**
 * Opens GraphiQL in a fresh context, runs `use` on it, then asserts that nothing outside this
 * machine was asked for (such requests are aborted and kept) and that the page broke no
 * Content-Security-Policy rule and threw nothing.
 */
async function withGraphiQL(baseUrl: string, use: (page: Page, served: Response) => Promise<void>): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, permissions: ["clipboard-read", "clipboard-write"] });
  const external: string[] = [];
  const problems: string[] = [];
  try {
    await context.route("**/*", (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === "127.0.0.1" || hostname === "localhost") return route.continue();
      external.push(route.request().url());
      return route.abort("internetdisconnected");
    });
    const page = await context.newPage();
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    try {
      const served = await page.goto(`${baseUrl}/graphql`);
      expect(served?.status()).toBe(200);
      await use(page, served!);
    } catch (error) {
      // A page that cannot load its parts times out somewhere; say what it was refused.
      throw new Error(`${(error as Error).message}\nexternal requests: ${JSON.stringify(external)}\npage problems: ${JSON.stringify(problems)}`, { cause: error });
    }
  } finally {
    await context.close();
  }
  expect(external).toEqual([]);
  expect(problems).toEqual([]);
}

/** The text of a Monaco editor as shown (it renders spaces as no-break spaces). */
const editorText = (page: Page, editor: string) =>
  page.locator(`${editor} .view-lines`).innerText().then((text) => text.replace(/\u00a0/g, " "));

/**
 * Replaces an editor's whole content the way a user would: click, select all, paste. (Typed,
 * the editor would add closing brackets and quotes of its own.)
 */
async function replaceEditorText(page: Page, editor: string, text: string): Promise<void> {
  await page.evaluate((pasted) => navigator.clipboard.writeText(pasted), text);
  await page.locator(editor).click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("ControlOrMeta+V");
}

/** The document, however the page spaces it (GraphiQL sends it minified). */
const sameDocument = (sent: unknown, expected: string) => typeof sent === "string" && print(parse(sent)) === print(parse(expected));

const graphqlResponse = (page: Page, matches: (query: string) => boolean) =>
  page.waitForResponse((response) => {
    const query: unknown = response.url().endsWith("/graphql") && response.request().postDataJSON()?.query;
    return typeof query === "string" && matches(query);
  });

/** Waits for the editor and its run button, checks the placeholder, puts `key` in its place. */
async function signIn(page: Page, key: string): Promise<void> {
  await page.locator(QUERY_EDITOR).waitFor();
  await page.getByRole("button", { name: /execute query/i }).waitFor();
  await page.locator(HEADERS_EDITOR).waitFor();
  expect(JSON.parse(await editorText(page, HEADERS_EDITOR))).toEqual(PLACEHOLDER);
  await replaceEditorText(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${key}` }, null, 2));
}

/** Asks the page to fetch the schema again (the first try went out with the placeholder). */
async function refetchSchema(page: Page): Promise<Response> {
  const introspected = graphqlResponse(page, (query) => query.includes("__schema"));
  await page.getByRole("button", { name: /re-fetch graphql schema/i }).click();
  return introspected;
}

/** Types QUERY, runs it, and returns the response to the request the page made. */
async function runViewerQuery(page: Page): Promise<Response> {
  await replaceEditorText(page, QUERY_EDITOR, QUERY);
  const answered = graphqlResponse(page, (query) => sameDocument(query, QUERY));
  await page.getByRole("button", { name: /execute query/i }).click();
  return answered;
}

describe("GraphiQL in a browser, offline", () => {
  it("is sent gzipped to a browser that accepts it and revalidated by its ETag (304 without a body): ~9 MB is not sent to anyone who asks", async () => {
    const plain = await app.fetch("/graphql", { headers: { accept: "text/html" } });
    const html = Buffer.from(await plain.arrayBuffer());
    expect(plain.headers.get("content-encoding")).toBeNull();
    const zipped = await app.fetch("/graphql", { headers: { accept: "text/html", "accept-encoding": "gzip, deflate, br" } });
    expect([zipped.status, zipped.headers.get("content-encoding"), zipped.headers.get("vary")]).toEqual([200, "gzip", "accept, accept-encoding"]);
    const body = Buffer.from(await zipped.arrayBuffer());
    expect(gunzipSync(body).equals(html)).toBe(true);
    expect(body.length).toBeLessThan(html.length / 3);
    const etag = zipped.headers.get("etag");
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const revalidated = await app.fetch("/graphql", { headers: { accept: "text/html", "if-none-match": etag! } });
    expect([revalidated.status, (await revalidated.arrayBuffer()).byteLength]).toEqual([304, 0]);
    // A GraphQL GET (no text/html) is still GraphQL.
    const query = await app.fetch(`/graphql?query=${encodeURIComponent("{ __typename }")}`, { headers: { accept: "application/json" } });
    expect(await query.json()).toEqual({ data: { __typename: "Query" } });
  });

  it("is served with a strict Content-Security-Policy and references no other host", async () => {
    const response = await app.http("/graphql", { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const policy = response.headers.get("content-security-policy") ?? "";
    expect(policy).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*';/);
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toContain("unsafe-eval");
    const html = await response.text();
    // Yoga's default page loads its script, styles and workers from unpkg, its icon from GitHub.
    for (const host of ["unpkg.com", "jsdelivr.net", "raw.githubusercontent.com", "fonts.googleapis.com", "fonts.gstatic.com"]) {
      expect(html).not.toContain(host);
    }
    expect(html).not.toMatch(/<(script|link|img|iframe)\b[^>]*\s(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
    expect(html).not.toContain(`Bearer ${org.admin.key}`);
  });

  it("renders the editor with the header placeholder, runs a viewer query with a real key, and fetches nothing external", async () => {
    await withGraphiQL(await app.httpUrl(), async (page, served) => {
      expect(served.headers()["content-security-policy"]).toMatch(/^default-src 'none'/);
      await signIn(page, org.admin.key);

      const introspected = await refetchSchema(page);
      expect(introspected.request().headers().authorization).toBe(`Bearer ${org.admin.key}`);
      expect(introspected.status()).toBe(200);
      expect((await introspected.json()).data.__schema.queryType).toEqual({ name: "Query", kind: "OBJECT" });
      await page.getByRole("button", { name: /show documentation explorer/i }).click();
      const docs = page.locator(".graphiql-doc-explorer");
      await docs.getByRole("link", { name: "Query", exact: true }).first().click();
      await docs.getByText("viewer", { exact: true }).waitFor();

      const answered = await runViewerQuery(page);
      expect(answered.request().headers().authorization).toBe(`Bearer ${org.admin.key}`);
      expect(await answered.json()).toEqual({ data: { viewer: { user: { email: org.admin.email } } } });
      await page.locator("section.result-window").getByText(org.admin.email).waitFor();
      // The page keeps tabs and history in the browser's storage, the key not (shouldPersistHeaders: false).
      const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
      expect(stored).toContain("viewer");
      expect(stored).not.toContain(org.admin.key);

      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT });
      console.log(`GraphiQL screenshot: ${SCREENSHOT}`);
    });
  });
});

describe("GraphiQL with introspection switched off (GRAPHQL_INTROSPECTION=false)", () => {
  let hidden: TestApp;
  let hiddenOrg: SeededOrg;
  beforeAll(async () => {
    hidden = await startTestApp({ env: { GRAPHQL_INTROSPECTION: "false" } });
    hiddenOrg = await hidden.seed.org();
  });
  afterAll(async () => {
    await hidden?.close();
  });

  it("still runs queries, but gets no schema (no documentation, no completion)", async () => {
    await withGraphiQL(await hidden.httpUrl(), async (page) => {
      await signIn(page, hiddenOrg.admin.key);
      const introspected = await refetchSchema(page);
      const refused = await introspected.json();
      expect(refused.data ?? null).toBeNull();
      expect(refused.errors[0]).toMatchObject({ message: expect.stringContaining("introspection has been disabled"), extensions: { code: "BAD_USER_INPUT" } });
      // What the user sees in place of the schema.
      await page.locator("section.result-window").getByText("introspection has been disabled").first().waitFor();
      const answered = await runViewerQuery(page);
      expect(await answered.json()).toEqual({ data: { viewer: { user: { email: hiddenOrg.admin.email } } } });
      await page.locator("section.result-window").getByText(hiddenOrg.admin.email).waitFor();
    });
  });
});
