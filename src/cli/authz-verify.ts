import { connectRemoteSpiceDb } from "../authz/client.js";
import { findDrift, repairDrift } from "../authz/drift.js";
import { relationshipKey } from "../authz/model.js";
import { ConfigError, loadConfig } from "../config.js";
import { openDatabase } from "../db/connect.js";
import { DataDirLockedError, lockDataDir } from "../db/data-dir-lock.js";

/**
 * `npm run authz:verify [-- --repair]`: compares the Postgres relationship record with the
 * SpiceDB at SPICEDB_ENDPOINT, prints each difference, and exits 1 on drift. With --repair,
 * converges SpiceDB to the record first (Postgres is the source of truth).
 *
 * With the embedded SpiceDB there is nothing to compare from outside: it lives in the
 * server's memory and is re-filled from the record at every start.
 */
async function main(): Promise<number> {
  const config = loadConfig();
  if (config.spicedb.kind !== "remote") {
    console.log("The embedded SpiceDB lives in the server's memory and is re-filled from the record at every start: nothing to verify from outside. Set SPICEDB_ENDPOINT to verify a SpiceDB cluster.");
    return 0;
  }
  const unlock = config.databaseUrl ? () => {} : lockDataDir(config.dataDir, "npm run authz:verify");
  const database = await openDatabase(config);
  const client = connectRemoteSpiceDb(config.spicedb);
  try {
    let drift = await findDrift(database.db, client);
    if (process.argv.includes("--repair") && drift.missing.length + drift.extra.length > 0) {
      await repairDrift(database.db, client, drift);
      console.log(`repaired: touched ${drift.missing.length}, deleted ${drift.extra.length}`);
      drift = await findDrift(database.db, client);
    }
    for (const r of drift.missing) console.log(`missing in SpiceDB: ${relationshipKey(r)}`);
    for (const r of drift.extra) console.log(`extra in SpiceDB:   ${relationshipKey(r)}`);
    const total = drift.missing.length + drift.extra.length;
    console.log(total === 0 ? "no drift: SpiceDB matches the record" : `${total} difference(s)`);
    return total === 0 ? 0 : 1;
  } finally {
    client.close();
    await database.close();
    unlock();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError || error instanceof DataDirLockedError ? error.message : error);
    process.exit(1);
  },
);
