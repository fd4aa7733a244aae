import type { Db, Tx } from "../../db/database.js";

/** Secret rows without their ciphertext: nothing that reads secrets for the API selects it. */
export const listSecrets = (db: Db, teamId: string) =>
  db.selectFrom("secrets").select(["name", "version", "updated_at"]).where("team_id", "=", teamId).orderBy("name").execute();

export const listSecretNames = async (db: Db | Tx, teamId: string) =>
  (await db.selectFrom("secrets").select("name").where("team_id", "=", teamId).execute()).map((s) => s.name);
