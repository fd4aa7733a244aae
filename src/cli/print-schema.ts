import { writeFileSync } from "node:fs";
import { printedSchema } from "../graphql/schema.js";

const path = new URL("../../schema/schema.graphql", import.meta.url);
writeFileSync(path, printedSchema());
console.log(`wrote ${path.pathname}`);
