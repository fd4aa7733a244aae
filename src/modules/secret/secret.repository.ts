import type { Db, Tx } from "../../db/database.js";

/** Secret rows without their ciphertext: nothing that reads secrets for the API selects it. */
export const listSecrets = (db: Db, teamId: string) =>
  db.selectFrom("secrets").select(["name", "version", "updated_at"]).where("team_id", "=", teamId).orderBy("name").execute();

export const listSecretNames = async (db: Db | Tx, teamId: string) =>
  (await db.selectFrom("secrets").select("name").where("team_id", "=", teamId).execute()).map((s) => s.name);

/** Creates the secret at version 1, or replaces its ciphertext and increments its version. */
export const upsertSecret = (tx: Tx, values: { teamId: string; name: string; ciphertext: string }) =>
  tx
    .insertInto("secrets")
    .values({ team_id: values.teamId, name: values.name, version: 1, ciphertext: values.ciphertext, updated_at: new Date() })
    .onConflict((oc) =>
      oc.columns(["team_id", "name"]).doUpdateSet((eb) => ({
        ciphertext: values.ciphertext,
        version: eb("secrets.version", "+", 1),
        updated_at: new Date(),
      })),
    )
    .returning(["name", "version", "updated_at"])
    .executeTakeFirstOrThrow();

/** False when the team had no secret of that name. */
export async function deleteSecretRow(tx: Tx, teamId: string, name: string): Promise<boolean> {
  const deleted = await tx.deleteFrom("secrets").where("team_id", "=", teamId).where("name", "=", name).executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}
