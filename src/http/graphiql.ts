import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { GraphiQLOptions, Plugin } from "graphql-yoga";

const gzipAsync = promisify(gzip);

/** What the headers editor starts with: a placeholder to replace, never a credential. */
export const AUTHORIZATION_PLACEHOLDER = JSON.stringify({ Authorization: "Bearer <your API key>" }, null, 2);

const options: GraphiQLOptions = {
  title: "Orgraph",
  defaultQuery: "# Put your API key in Headers (below), then run\n{\n  viewer {\n    user {\n      email\n    }\n  }\n}\n",
  headers: AUTHORIZATION_PLACEHOLDER,
  defaultEditorToolsVisibility: "headers",
  // The key typed into the headers editor stays in the tab, not in the browser's storage.
  shouldPersistHeaders: false,
};

interface GraphiQLPage {
  html: Uint8Array<ArrayBuffer>;
  gzipped: Uint8Array<ArrayBuffer>;
  etag: string;
  contentSecurityPolicy: string;
}

let page: Promise<GraphiQLPage> | undefined;

/**
 * GraphiQL from @graphql-yoga/render-graphiql, whose page carries its scripts, styles, fonts
 * and editor workers inline: nothing is fetched from a CDN, so it works offline (yoga's
 * default page loads all of it from unpkg). The page is ~9 MB, anyone may ask for it, so it
 * is built once on first request (not at start), served gzipped (~2 MB) to a browser that
 * accepts it, and revalidated by its ETag (304) instead of sent again.
 *
 * Its policy lets the browser run that one inline script (by its hash) and nothing else:
 * no other script, no request except to this origin (a key typed into the page can only be
 * sent here), no framing. Styles are inline and the editor sets style attributes, hence
 * 'unsafe-inline' for styles only; the editor's workers are blobs made by the script.
 */
const loadPage = () =>
  (page ??= import("@graphql-yoga/render-graphiql").then(async ({ renderGraphiQL }) => {
    const text = renderGraphiQL(options);
    const script = text.slice(text.indexOf("<script>") + "<script>".length, text.indexOf("</script>"));
    const scriptHash = createHash("sha256").update(script).digest("base64");
    const contentSecurityPolicy = [
      "default-src 'none'",
      `script-src 'sha256-${scriptHash}'`,
      "worker-src blob:",
      "style-src 'unsafe-inline'",
      "font-src data:",
      "img-src data:",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; ");
    const html = new TextEncoder().encode(text);
    const etag = `"${createHash("sha256").update(html).digest("base64url").slice(0, 27)}"`;
    const gzipped = await gzipAsync(html);
    return { html, gzipped: new Uint8Array(gzipped.buffer as ArrayBuffer, gzipped.byteOffset, gzipped.byteLength), etag, contentSecurityPolicy };
  }));

const acceptsGzip = (request: Request) => /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");

/**
 * A browser's GET of the page: answered with the page whatever its query string, never executed
 * (admission.ts lets these through the GraphQL gate on this same test).
 */
export const isGraphiQLPageRequest = (method: string | undefined, accept: string | null | undefined, pathname: string) =>
  method === "GET" && Boolean(accept?.includes("text/html")) && (pathname === "/graphql" || pathname === "/graphql/");

/**
 * Serves the page on a browser's GET /graphql (what yoga's own GraphiQL answers; yoga's is
 * switched off in app.ts). Everything else goes on to GraphQL.
 */
export function useOfflineGraphiQL(): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (!isGraphiQLPageRequest(request.method, request.headers.get("accept"), url.pathname)) return;
      const { html, gzipped, etag, contentSecurityPolicy } = await loadPage();
      const headers: Record<string, string> = { "content-security-policy": contentSecurityPolicy, etag, "cache-control": "no-cache", vary: "accept, accept-encoding" };
      if (request.headers.get("if-none-match") === etag) return endResponse(new fetchAPI.Response(null, { status: 304, headers }));
      const gzip = acceptsGzip(request);
      if (gzip) headers["content-encoding"] = "gzip";
      endResponse(new fetchAPI.Response(gzip ? gzipped : html, { headers: { ...headers, "content-type": "text/html; charset=utf-8" } }));
    },
  };
}
