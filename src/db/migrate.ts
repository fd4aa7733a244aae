import { Migrator, type Kysely, type Migration } from "kysely";
import * as foundation from "./migrations/2026_11_24_0001_foundation.js";
import * as teamResources from "./migrations/2026_11_24_0002_team_resources.js";
import * as keysAndUsage from "./migrations/2026_11_24_0003_keys_and_usage.js";
import * as auditAndRoles from "./migrations/2026_11_24_0004_audit_and_roles.js";
import * as sharedZedToken from "./migrations/2026_11_24_0005_shared_zed_token.js";
import * as changeRevision from "./migrations/2026_11_24_0006_change_revision.js";
import * as invitationLifecycle from "./migrations/2026_11_25_0007_invitation_lifecycle.js";
import * as orgBrowse from "./migrations/2026_11_25_0008_org_browse.js";
import * as securityLog from "./migrations/2026_11_25_0009_security_log.js";
import * as chainRuns from "./migrations/2026_11_25_0011_chain_runs.js";
import * as billingEmail from "./migrations/2026_11_25_0012_billing_email.js";
import * as ipAllowlists from "./migrations/2026_12_03_0013_ip_allowlists.js";
import * as limits from "./migrations/2026_12_03_0014_limits.js";
import * as toolPolicies from "./migrations/2026_12_03_0015_tool_policies.js";
import * as keyLifecycle from "./migrations/2026_12_04_0016_key_lifecycle.js";
import * as sso from "./migrations/2026_12_04_0017_sso.js";
import * as accessRequests from "./migrations/2026_12_04_0018_access_requests.js";

// Listed explicitly (not read from a folder) so the set is the same under tsx, vitest and
// any bundler; names sort in the order they must run.
const MIGRATIONS: Record<string, Migration> = {
  "2026_11_24_0001_foundation": foundation,
  "2026_11_24_0002_team_resources": teamResources,
  "2026_11_24_0003_keys_and_usage": keysAndUsage,
  "2026_11_24_0004_audit_and_roles": auditAndRoles,
  "2026_11_24_0005_shared_zed_token": sharedZedToken,
  "2026_11_24_0006_change_revision": changeRevision,
  "2026_11_25_0007_invitation_lifecycle": invitationLifecycle,
  "2026_11_25_0008_org_browse": orgBrowse,
  "2026_11_25_0009_security_log": securityLog,
  "2026_11_25_0011_chain_runs": chainRuns,
  "2026_11_25_0012_billing_email": billingEmail,
  "2026_12_03_0013_ip_allowlists": ipAllowlists,
  "2026_12_03_0014_limits": limits,
  "2026_12_03_0015_tool_policies": toolPolicies,
  "2026_12_04_0016_key_lifecycle": keyLifecycle,
  "2026_12_04_0017_sso": sso,
  "2026_12_04_0018_access_requests": accessRequests,
};

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error) {
    throw new Error(`Migration ${failed?.migrationName ?? ""} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
