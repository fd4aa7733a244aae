import { parseArgs } from "node:util";
import { connectRemoteSpiceDb, readAuthzSchema } from "../authz/client.js";
import { ConsistencyTracker } from "../authz/consistency.js";
import { OutboxApplier } from "../authz/outbox-applier.js";
import { ConfigError, loadConfig } from "../config.js";
import { openDatabase } from "../db/connect.js";
import { DataDirLockedError, lockDataDir } from "../db/data-dir-lock.js";
import { errorCode } from "../errors.js";
import { createLogger } from "../logger.js";
import { issueApiKey } from "../modules/api-key/api-key.service.js";
import { createOrganizationIn } from "../modules/organization/organization.service.js";
import { findOrCreateUser } from "../modules/user/user.service.js";
import { validEmail, validName } from "../validation.js";

/**
 * `npm run bootstrap -- --org NAME --email EMAIL`: creates an organization, its first ADMIN
 * and a personal key, and prints one JSON line. It writes the relationship record; the
 * embedded SpiceDB is filled from it when the server starts, a remote SpiceDB is brought up
 * to date right away.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { org: { type: "string" }, email: { type: "string" } } });
  if (!values.org || !values.email) throw new UsageError("usage: npm run bootstrap -- --org NAME --email EMAIL");
  const orgName = validName(values.org, "organization name");
  const email = validEmail(values.email);

  const config = loadConfig();
  const logger = createLogger("warn");
  const unlock = config.databaseUrl ? () => {} : lockDataDir(config.dataDir, "npm run bootstrap");
  const database = await openDatabase(config);
  try {
    const result = await database.db.transaction().execute(async (tx) => {
      const { user } = await findOrCreateUser(tx, email, { verified: true });
      const org = await createOrganizationIn(tx, orgName, user.id);
      const { secret } = await issueApiKey(tx, { kind: "PERSONAL", name: "bootstrap", user_id: user.id, created_by: user.id });
      return { organizationId: org.id, userId: user.id, apiKey: secret };
    });
    if (config.spicedb.kind === "remote") {
      const client = connectRemoteSpiceDb(config.spicedb);
      try {
        await client.writeSchema(readAuthzSchema());
        await new OutboxApplier(database.db, client, new ConsistencyTracker(), logger).flush();
      } finally {
        client.close();
      }
    }
    console.log(JSON.stringify(result));
  } finally {
    await database.close();
    unlock();
  }
}

class UsageError extends Error {}

main().catch((error: unknown) => {
  const expected = error instanceof UsageError || error instanceof ConfigError || error instanceof DataDirLockedError || errorCode(error);
  console.error(expected ? (error as Error).message : error);
  process.exit(1);
});
