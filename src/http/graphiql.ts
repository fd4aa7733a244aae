import { createHash } from "node:crypto";
import type { GraphiQLOptions, Plugin } from "graphql-yoga";

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
  html: string;
  contentSecurityPolicy: string;
}

let page: Promise<GraphiQLPage> | undefined;

/**
 * GraphiQL from @graphql-yoga/render-graphiql, whose page carries its scripts, styles, fonts
 * and editor workers inline: nothing is fetched from a CDN, so it works offline (yoga's
 * default page loads all of it from unpkg). The bundle is ~9 MB, so it is loaded on the first
 * request for the page, not at start, and rendered once.
 *
 * Its policy lets the browser run that one inline script (by its hash) and nothing else:
 * no other script, no request except to this origin (a key typed into the page can only be
 * sent here), no framing. Styles are inline and the editor sets style attributes, hence
 * 'unsafe-inline' for styles only; the editor's workers are blobs made by the script.
 */
const loadPage = () =>
  (page ??= import("@graphql-yoga/render-graphiql").then(({ renderGraphiQL }) => {
    const html = renderGraphiQL(options);
    const script = html.slice(html.indexOf("<script>") + "<script>".length, html.indexOf("</script>"));
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
    return { html, contentSecurityPolicy };
  }));

/** The page yoga serves on GET /graphql to a browser (its `renderGraphiQL`). */
export const graphiqlPage = async () => (await loadPage()).html;

/** Sends the page's Content-Security-Policy with it (yoga's renderer gives only the body). */
export function useGraphiQLPolicy(): Plugin {
  return {
    async onResponse({ response }) {
      if (!response.headers.get("content-type")?.startsWith("text/html")) return;
      response.headers.set("content-security-policy", (await loadPage()).contentSecurityPolicy);
    },
  };
}
