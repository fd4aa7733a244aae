import type { AppContext } from "../../context.js";
import { describeAudit } from "../audit/audit.js";
import { badInput, notFound } from "../../errors.js";
import { writeTransaction } from "../../write.js";
import { getBrowsableTeam, teamRef } from "../team/team.service.js";
import { deleteSecretRow, listSecretNames, upsertSecret } from "./secret.repository.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_VALUE_BYTES = 64 * 1024;

export interface SecretSummary {
  name: string;
  version: number;
  updated_at: Date;
}

function validSecretName(name: string): string {
  if (!NAME.test(name)) throw badInput("A secret name is a letter or _, then letters, digits or _ (at most 128)");
  return name;
}

/** The encryption context binds a ciphertext to its team and name. */
export const secretContext = (teamId: string, name: string) => `secret:${teamId}:${name}`;

/** Creates the secret, or rotates it (its version increases). The value is encrypted before it is stored. */
export async function setSecret(ctx: AppContext, teamId: string, name: string, value: string): Promise<SecretSummary> {
  validSecretName(name);
  if (value.length === 0) throw badInput("A secret value must not be empty");
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES) throw badInput(`A secret value must be at most ${MAX_VALUE_BYTES} bytes`);
  await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "secrets_manage");
  // The value itself never reaches the log: only that it changed.
  describeAudit(ctx, { teamId, targetId: teamId, diff: { name, value: "changed" } });
  const ciphertext = ctx.deps.secretBox.seal(value, secretContext(teamId, name));
  return writeTransaction(ctx, (tx) => upsertSecret(tx, { teamId, name, ciphertext }));
}

export async function deleteSecret(ctx: AppContext, teamId: string, name: string): Promise<boolean> {
  validSecretName(name);
  await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "secrets_manage");
  const deleted = await writeTransaction(ctx, (tx) => deleteSecretRow(tx, teamId, name));
  if (!deleted) throw notFound(`The team has no secret named "${name}"`);
  return true;
}

/* Reads for other modules (no authorization: the caller has authorized what it reads them for). */

/** The names of the team's secrets (never their values). */
export const secretNamesOfTeam = listSecretNames;
