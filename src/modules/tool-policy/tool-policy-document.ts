import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node, type YAMLMap } from "yaml";
import type { ApiKeyType, Sensitivity, TeamRole } from "../../db/database.js";
import { globListProblems, SENSITIVITIES } from "./tool-policy-rules.js";

/**
 * The tool policy as a YAML document: Keeptrusts' runtime `rbac` block (`roles`,
 * `data_access`, `minimum_necessary`), bare or inside a whole Keeptrusts file (`policies:
 * chain: [rbac]` and `policy: rbac: {...}`). Parsed here without I/O, for
 * `setToolPolicyDocument` and the offline `npm run policy:lint`; custom role names are
 * resolved by the caller (the service, in the team's organization).
 */
export const MAX_DOCUMENT_BYTES = 64 * 1024;
export const MAX_ROLES = 100;

export interface Position { line: number; column: number }
export interface Problem extends Partial<Position> { severity: "error" | "warning"; message: string }
/** A role as the document names it: a built-in name (canonical upper case), or a custom role's name. */
export interface NamedRole { name: string; builtIn: boolean; at: Position }
export interface DocumentRule { role: NamedRole; allowedTools: string[]; deniedTools: string[]; maxSensitivity: Sensitivity | null }
export interface ParsedDocument { rules: DocumentRule[]; phiRoles: NamedRole[]; problems: Problem[] }

const TEAM_ROLES: TeamRole[] = ["ADMIN", "MEMBER", "OPERATOR", "VIEWER"];
const KEY_TYPES: ApiKeyType[] = ["FULL_ACCESS", "INFERENCE_ONLY", "METRICS_ONLY"];
export const BUILT_IN_ROLES: readonly string[] = [...TEAM_ROLES, ...KEY_TYPES];

/** The canonical built-in role (team role or key type) a name means, in any case; undefined for a custom role's name. */
export const builtInRole = (name: string): string | undefined => BUILT_IN_ROLES.find((r) => r === name.toUpperCase());

/** Keeptrusts' header-identity keys: Orgraph knows the caller from its credential, so they do not apply. */
const NOT_APPLICABLE = new Set(["deny_if_missing", "require_auth", "user_header", "role_header", "identity_headers"]);

export function parseToolPolicyDocument(text: string): ParsedDocument {
  const problems: Problem[] = [];
  const result: ParsedDocument = { rules: [], phiRoles: [], problems };
  if (Buffer.byteLength(text, "utf8") > MAX_DOCUMENT_BYTES) {
    problems.push({ severity: "error", message: `the document is over ${MAX_DOCUMENT_BYTES} bytes` });
    return result;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined): Position => {
    const { line, col } = lines.linePos(node?.range?.[0] ?? 0);
    return { line, column: col };
  };
  const error = (node: Node | null | undefined, message: string) => problems.push({ severity: "error", ...at(node), message });
  const warning = (node: Node | null | undefined, message: string) => problems.push({ severity: "warning", ...at(node), message });
  for (const e of doc.errors) {
    const { line, col } = lines.linePos(e.pos[0]);
    problems.push({ severity: "error", line, column: col, message: e.message });
  }
  if (doc.errors.length > 0) return result;
  if (doc.contents === null) return result; // An empty document: no rules, no tools.
  if (!isMap(doc.contents)) {
    error(doc.contents, "the document must be a mapping (the rbac block, or a Keeptrusts policy file)");
    return result;
  }

  const rbac = rbacBlock(doc.contents, error, warning);
  if (!rbac) return result;
  const rules = new Map<string, DocumentRule>();
  const ruleFor = (key: Node): DocumentRule | undefined => {
    const role = namedRole(key, at, error);
    if (!role) return undefined;
    let rule = rules.get(role.name);
    if (!rule) rules.set(role.name, (rule = { role, allowedTools: [], deniedTools: [], maxSensitivity: null }));
    return rule;
  };

  for (const pair of rbac.items) {
    const key = scalarText(pair.key as Node) ?? "?";
    const keyNode = pair.key as Node;
    const value = pair.value as Node | null;
    if (NOT_APPLICABLE.has(key)) {
      warning(keyNode, `rbac.${key} is not applicable: Orgraph identifies the caller by its credential, not by headers; ignored`);
    } else if (key === "roles") {
      for (const [roleKey, body, path] of entries(value, "rbac.roles", error)) {
        const rule = ruleFor(roleKey);
        for (const [field, list, fieldPath] of entries(body, path, error)) {
          const name = scalarText(field);
          if (name !== "allowed_tools" && name !== "denied_tools") {
            error(field, `${fieldPath}: unknown key (expected allowed_tools, denied_tools)`);
            continue;
          }
          const globs = stringList(list, fieldPath, error);
          for (const p of globListProblems(globs)) error(p.index === undefined ? list : (list as unknown as { items: Node[] }).items[p.index], `${fieldPath}${p.index === undefined ? "" : `[${p.index}]`}: ${p.message}`);
          if (rule) rule[name === "allowed_tools" ? "allowedTools" : "deniedTools"] = globs;
        }
      }
    } else if (key === "data_access") {
      for (const [roleKey, body, path] of entries(value, "rbac.data_access", error)) {
        const rule = ruleFor(roleKey);
        for (const [field, level, fieldPath] of entries(body, path, error)) {
          if (scalarText(field) !== "max_sensitivity") {
            error(field, `${fieldPath}: unknown key (expected max_sensitivity)`);
            continue;
          }
          const asked = scalarText(level)?.toUpperCase();
          const sensitivity = SENSITIVITIES.find((s) => s === asked);
          if (!sensitivity) error(level, `${fieldPath}: must be one of ${SENSITIVITIES.map((s) => s.toLowerCase()).join(", ")}`);
          else if (rule) rule.maxSensitivity = sensitivity;
        }
      }
    } else if (key === "minimum_necessary") {
      result.phiRoles = minimumNecessary(value, at, error, warning);
    } else {
      error(keyNode, `rbac.${key}: unknown key (expected roles, data_access, minimum_necessary)`);
    }
  }
  result.rules = [...rules.values()];
  if (result.rules.length > MAX_ROLES) error(rbac, `at most ${MAX_ROLES} roles`);
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return result;
}

type Report = (node: Node | null | undefined, message: string) => void;

/** The rbac block: the document itself, `rbac:` in it, or `policy: rbac:` of a whole Keeptrusts file. */
function rbacBlock(top: YAMLMap, error: Report, warning: Report): YAMLMap | undefined {
  const policy = top.get("policy", true) as Node | undefined;
  const policies = top.get("policies", true) as Node | undefined;
  if (!policy && !policies) {
    const inner = top.get("rbac", true) as Node | undefined;
    if (inner === undefined) return top;
    if (!isMap(inner)) return void error(inner, "rbac must be a mapping");
    return inner;
  }
  const chain = isMap(policies) ? (policies.get("chain", true) as Node | undefined) : undefined;
  const chained = isSeq(chain) ? chain.items.map((item) => scalarText(item as Node)) : [];
  if (!chained.includes("rbac")) error(policies ?? policy, "policies.chain must list rbac");
  for (const item of isSeq(chain) ? chain.items : []) {
    const name = scalarText(item as Node);
    if (name !== "rbac") warning(item as Node, `policy ${name} in policies.chain is not Orgraph's to apply; ignored`);
  }
  for (const pair of top.items) {
    const key = scalarText(pair.key as Node);
    if (key !== "policy" && key !== "policies") warning(pair.key as Node, `${key} is not part of the rbac policy; ignored`);
  }
  if (!isMap(policy)) return void error(policy ?? top, "policy.rbac is missing");
  const rbac = policy.get("rbac", true) as Node | undefined;
  if (!isMap(rbac)) return void error(rbac ?? policy, "policy.rbac must be a mapping");
  for (const pair of policy.items) {
    const key = scalarText(pair.key as Node);
    if (key !== "rbac") warning(pair.key as Node, `policy.${key} is not Orgraph's to apply; ignored`);
  }
  return rbac;
}

function minimumNecessary(value: Node | null, at: (n: Node | null | undefined) => Position, error: Report, warning: Report): NamedRole[] {
  let enabled: boolean | undefined;
  let given = false;
  let roles: NamedRole[] = [];
  let listNode: Node | null = null;
  for (const [field, body, path] of entries(value, "rbac.minimum_necessary", error)) {
    const name = scalarText(field);
    if (name === "enabled") {
      given = true;
      if (isScalar(body) && typeof body.value === "boolean") enabled = body.value;
      else error(body, `${path}: must be true or false`);
    } else if (name === "allowed_phi_roles") {
      listNode = body;
      const names = stringList(body, path, error);
      roles = names.flatMap((_, i) => namedRole((body as unknown as { items: Node[] }).items[i]!, at, error) ?? []);
    } else error(field, `${path}: unknown key (expected enabled, allowed_phi_roles)`);
  }
  if (!given && value !== null) error(value, "rbac.minimum_necessary.enabled is required (true or false)");
  if (enabled === true && roles.length === 0) error(listNode ?? value, "rbac.minimum_necessary.allowed_phi_roles: name at least one role, or set enabled: false");
  if (enabled === false && roles.length > 0) warning(listNode, "rbac.minimum_necessary.allowed_phi_roles is ignored while enabled is false");
  return enabled ? roles : [];
}

const scalarText = (node: Node | null | undefined): string | undefined =>
  isScalar(node) && (typeof node.value === "string" || typeof node.value === "number" || typeof node.value === "boolean") ? String(node.value) : undefined;

/** The pairs of a mapping as [key node, value node, path]; an error when it is not one. */
function entries(node: Node | null | undefined, path: string, error: Report): [Node, Node | null, string][] {
  if (node === null || node === undefined) return [];
  if (!isMap(node)) {
    error(node, `${path} must be a mapping`);
    return [];
  }
  return node.items.map((pair) => [pair.key as Node, pair.value as Node | null, `${path}.${scalarText(pair.key as Node) ?? "?"}`]);
}

function stringList(node: Node | null, path: string, error: Report): string[] {
  if (node === null) return [];
  if (!isSeq(node)) {
    error(node, `${path} must be a list`);
    return [];
  }
  return node.items.flatMap((item, i) => {
    const text = isScalar(item) && typeof item.value === "string" ? item.value : undefined;
    if (text === undefined) error(item as Node, `${path}[${i}] must be a string`);
    return text === undefined ? [] : [text];
  });
}

function namedRole(node: Node, at: (n: Node | null | undefined) => Position, error: Report): NamedRole | undefined {
  const name = scalarText(node);
  if (!name || name.length > 100) return void error(node, "a role must be a name (a built-in role, an API key type or a custom role's name)");
  const builtIn = builtInRole(name);
  return { name: builtIn ?? name, builtIn: builtIn !== undefined, at: at(node) };
}

/** The policy as a bare rbac block, roles by name (built-ins upper case); what `TeamToolPolicy.document` shows. */
export function renderToolPolicyDocument(rules: { name: string; allowedTools: string[]; deniedTools: string[]; maxSensitivity: Sensitivity | null }[], phiRoles: string[]): string {
  const roles = Object.fromEntries(rules.map((r) => [r.name, { allowed_tools: r.allowedTools, denied_tools: r.deniedTools }]));
  const ceilings = rules.filter((r) => r.maxSensitivity).map((r) => [r.name, { max_sensitivity: r.maxSensitivity!.toLowerCase() }]);
  const document = {
    roles,
    ...(ceilings.length ? { data_access: Object.fromEntries(ceilings) } : {}),
    minimum_necessary: phiRoles.length ? { enabled: true, allowed_phi_roles: phiRoles } : { enabled: false },
  };
  return stringify(document);
}
