import { writeFileSync } from "node:fs";
import { openDatabase } from "../src/db/connect.js";
import { QUICK, seedWorkload } from "./seed.js";
const dataDir = process.argv[2]!;
const database = await openDatabase({ databaseUrl: undefined, dataDir });
const w = await seedWorkload(database.db, QUICK);
await database.close();
writeFileSync(`${dataDir}/workload.json`, JSON.stringify(w));
