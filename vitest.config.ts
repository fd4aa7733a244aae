import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // graphql 16 has no "exports" map: Node loads its CommonJS build (as the libraries in
    // node_modules do), while Vite would pick the "module" build for our files. Two copies
    // of graphql break its instanceof checks, so tests resolve it the way Node does.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file makes its own database, so files run in parallel safely.
    pool: "forks",
  },
});
