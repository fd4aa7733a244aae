import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CUSTOM_ROLE_PERMISSIONS, derivedSpicedbPermission, PERMISSIONS, permissionsOf, spicedbName } from "../src/authz/catalog.js";
import { DEPRECATED_ACTIONS, GATEWAY_ACTIONS } from "../src/modules/gateway/authorize.js";

/**
 * One vocabulary (issue 12): a permission has one name from spicedb/schema.zed to the catalog,
 * the gateway's actions and `viewerPermissions`. Reads schema.zed as text: no SpiceDB needed.
 */
interface SchemaPermission {
  definition: string;
  name: string;
  /** The doc comment ending on the line right above it, if any. */
  comment: string | undefined;
}

function parseSchema(text: string): SchemaPermission[] {
  const lines = text.split("\n");
  const permissions: SchemaPermission[] = [];
  let definition: string | undefined;
  lines.forEach((line, i) => {
    const opened = /^definition (\w+) \{/.exec(line);
    if (opened) definition = opened[1];
    const permission = /^\s+permission (\w+) =/.exec(line);
    if (!permission) return;
    if (!definition) throw new Error(`permission ${permission[1]} outside a definition`);
    permissions.push({ definition, name: permission[1]!, comment: commentAbove(lines, i) });
  });
  return permissions;
}

function commentAbove(lines: string[], index: number): string | undefined {
  if (!lines[index - 1]?.trim().endsWith("*/")) return undefined;
  let start = index - 1;
  while (start >= 0 && !lines[start]!.includes("/**")) start--;
  return lines
    .slice(start, index)
    .map((line) => line.trim().replace(/^\/\*\*\s?|\*\/$|^\*\s?/g, "").trim())
    .filter(Boolean)
    .join(" ");
}

const schema = parseSchema(readFileSync(new URL("../spicedb/schema.zed", import.meta.url), "utf8"));
const permissionsOfType = (definition: string) => new Set(schema.filter((p) => p.definition === definition).map((p) => p.name));

describe("the naming rule", () => {
  it.each([
    ["organization", "org:manage", "manage"],
    ["organization", "billing:view", "billing_view"],
    ["team", "team:manage_members", "manage_members"],
    ["team", "models:invoke", "models_invoke"],
    ["model", "metrics:read", "metrics_read"],
    ["environment", "environment:manage", "manage"],
  ] as const)("%s %s is SpiceDB %s", (objectType, name, expected) => {
    expect(derivedSpicedbPermission(objectType, name)).toBe(expected);
  });

  it("refuses a name that is not <area>:<verb>, and a lookup of a name the catalog lacks", () => {
    expect(() => derivedSpicedbPermission("team", "view")).toThrow(/<area>:<verb>/);
    expect(() => spicedbName("environment", "environment:deploy")).toThrow(/no "environment:deploy" on environment/);
    expect(() => spicedbName("team", "environment:manage")).toThrow(/no "environment:manage" on team/);
  });
});

describe("schema.zed and the catalog", () => {
  it("parses every definition of schema.zed", () => {
    expect(new Set(schema.map((p) => p.definition))).toEqual(
      new Set(["user", "service_account", "api_key", "organization", "role_binding", "team", "environment", "model", "chain", "training_project"]),
    );
  });

  it("(a) every catalog entry's SpiceDB name is a permission of its object type", () => {
    const missing = PERMISSIONS.filter((p) => !permissionsOfType(p.objectType).has(p.spicedbPermission));
    expect(missing.map((p) => `${p.objectType} ${p.name} → ${p.spicedbPermission}`)).toEqual([]);
  });

  it("(c) every schema.zed permission is in the catalog for its type or documented as Internal, never both", () => {
    const inCatalog = (p: SchemaPermission) => PERMISSIONS.some((c) => c.objectType === p.definition && c.spicedbPermission === p.name);
    const internal = (p: SchemaPermission) => p.comment?.startsWith("Internal:") === true;
    expect(schema.filter((p) => inCatalog(p) === internal(p)).map((p) => `${p.definition}#${p.name}: ${inCatalog(p) ? "in the catalog and Internal" : "neither"}`)).toEqual([]);
  });

  it("custom roles hold team permissions only, each a relation of role", () => {
    expect([...CUSTOM_ROLE_PERMISSIONS.keys()].sort()).toEqual(permissionsOf("team").map((p) => p.name).sort());
    const roleRelations = readFileSync(new URL("../spicedb/schema.zed", import.meta.url), "utf8").match(/definition role \{([^}]*)\}/)![1]!;
    for (const relation of CUSTOM_ROLE_PERMISSIONS.values()) expect(roleRelations).toContain(`relation ${relation}:`);
  });
});

describe("the gateway's actions", () => {
  it("(b) every action is a catalog name, and checks catalog permissions on the model and on the environment", () => {
    for (const [action, { model, environment }] of Object.entries(GATEWAY_ACTIONS)) {
      expect(PERMISSIONS.some((p) => p.name === action), action).toBe(true);
      expect(permissionsOfType("model").has(spicedbName("model", model)), `${action} on model`).toBe(true);
      expect(permissionsOfType("environment").has(spicedbName("environment", environment)), `${action} on environment`).toBe(true);
    }
  });

  it("every deprecated alias names one action, and no alias is itself an action", () => {
    for (const [alias, action] of Object.entries(DEPRECATED_ACTIONS)) {
      expect(Object.keys(GATEWAY_ACTIONS)).toContain(action);
      expect(Object.keys(GATEWAY_ACTIONS)).not.toContain(alias);
    }
  });
});

describe("the catalog's order", () => {
  it("names added later come after the names clients already list (viewerPermissions keeps its old order as a prefix)", () => {
    const environment = PERMISSIONS.filter((p) => p.objectType === "environment").map((p) => p.name);
    expect(environment.slice(0, 3)).toEqual(["environment:view", "environment:manage", "environment:manage_access"]);
  });
});
