import { readFileSync } from "node:fs";
import { parseToolPolicyDocument } from "../modules/tool-policy/tool-policy-document.js";

/**
 * `npm run policy:lint -- file.yaml [more.yaml …]`: checks tool-policy documents offline, as
 * Keeptrusts' `kt policy lint` does. Prints `file:line:col: error|warning: message` per
 * problem; exits 1 when any file has an error (or cannot be read), 0 otherwise. Custom role
 * names cannot be resolved offline: they are listed in a note, and setToolPolicyDocument
 * resolves them in the team's organization.
 */
const files = process.argv.slice(2).filter((arg) => arg !== "--");
if (files.length === 0) {
  console.error("usage: npm run policy:lint -- file.yaml [more.yaml …]");
  process.exit(2);
}

let failed = false;
for (const file of files) {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    console.log(`${file}: error: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    failed = true;
    continue;
  }
  const { problems, rules, phiRoles } = parseToolPolicyDocument(text);
  for (const p of problems) console.log(`${file}:${p.line ?? 1}:${p.column ?? 1}: ${p.severity}: ${p.message}`);
  const custom = [...new Set([...rules.map((r) => r.role), ...phiRoles].filter((r) => !r.builtIn).map((r) => r.name))];
  if (custom.length > 0) {
    console.log(`${file}: note: custom roles ${custom.join(", ")} cannot be resolved offline; setToolPolicyDocument resolves them in the team's organization`);
  }
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  console.log(`${file}: ${errors} ${errors === 1 ? "error" : "errors"}, ${warnings} ${warnings === 1 ? "warning" : "warnings"}`);
  if (errors > 0) failed = true;
}
process.exit(failed ? 1 : 0);
