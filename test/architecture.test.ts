import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The layout rules of ARCHITECTURE.md, checked on the source text: where SQL may be written,
 * how modules reach each other's data, where relationships are built and written. A rule
 * broken here is a newcomer's "where is X" answered wrongly.
 */
const ROOT = join(import.meta.dirname, "..");
const SRC = join(ROOT, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

const files = sourceFiles(SRC).map((path) => ({ path: relative(ROOT, path), text: readFileSync(path, "utf8") }));
const moduleOf = (path: string) => /^src\/modules\/([^/]+)\//.exec(path)?.[1];
const isRepository = (path: string) => path.endsWith(".repository.ts");
/** The database layer: connections, migrations and the schema types. */
const isDatabaseLayer = (path: string) => path.startsWith("src/db/");

/** Lines of `text` matching `pattern`, as "path:line: text" for a readable failure. */
function offending(pattern: RegExp, keep: (file: { path: string; text: string }) => boolean): string[] {
  return files.filter(keep).flatMap(({ path, text }) =>
    text
      .split("\n")
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => pattern.test(line))
      .map(({ line, i }) => `${path}:${i + 1}: ${line.trim()}`),
  );
}

describe("architecture (ARCHITECTURE.md)", () => {
  it("SQL is written only in repositories (and the database layer)", () => {
    const query = /\.(selectFrom|insertInto|updateTable|deleteFrom)\(|\bsql`|\bsql</;
    expect(offending(query, ({ path }) => !isRepository(path) && !isDatabaseLayer(path))).toEqual([]);
  });

  it("a module reaches another module's data through that module's service, never its repository", () => {
    const crossImport = /^import (?!type )[^;]*from "\.\.\/([a-z-]+)\/[a-z.-]+\.repository\.js"/;
    const outside = files.flatMap(({ path, text }) => {
      const own = moduleOf(path);
      return text
        .split("\n")
        .filter((line) => {
          const match = crossImport.exec(line);
          return match && match[1] !== own;
        })
        .map((line) => `${path}: ${line}`);
    });
    // Outside src/modules (auth, http, cli, graphql), module repositories are not imported either.
    const fromLayers = offending(/^import (?!type )[^;]*from "[./]*\/?modules\/[a-z-]+\/[a-z.-]+\.repository\.js"/, ({ path }) => !moduleOf(path));
    expect([...outside, ...fromLayers]).toEqual([]);
  });

  it("relationships are built only in a module's *.relationships.ts, and written only by services", () => {
    const builtInline = offending(/\brelation: "/, ({ path }) => !path.endsWith(".relationships.ts") && !path.startsWith("src/authz/"));
    const writtenOutsideServices = offending(
      /\bwriteRelationships\(/,
      ({ path }) => !path.endsWith(".service.ts") && !path.startsWith("src/authz/") && !path.endsWith("write-in-team.ts"),
    );
    expect([...builtInline, ...writtenOutsideServices]).toEqual([]);
  });

  it("context.ts, which every layer imports, imports no module", () => {
    const context = files.find(({ path }) => path === "src/context.ts")!;
    expect(context.text.split("\n").filter((line) => /from "\.\/modules\//.test(line))).toEqual([]);
  });

  it("no source file is over 300 lines", () => {
    const long = files.filter(({ text }) => text.split("\n").length > 300).map(({ path, text }) => `${path}: ${text.split("\n").length}`);
    expect(long).toEqual([]);
  });
});
