import { sql } from "kysely";
import { generateSecret, type SecretKind } from "../../auth/secrets.js";
import type { Db, NewRow, Row, Tx } from "../../db/database.js";
import { newId } from "../../ids.js";

export type ApiKey = Row<"api_keys">;

export const findApiKey = (db: Db | Tx, id: string) => db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();

/** The key whose current secret, or previous secret (a rotation's, in or past its grace period), hashes to `hash`. */
export const findApiKeyBySecretHash = (db: Db, hash: string) =>
  db
    .selectFrom("api_keys")
    .selectAll()
    .where((eb) => eb.or([eb("secret_hash", "=", hash), eb("previous_secret_hash", "=", hash)]))
    .executeTakeFirst();

const SECRET_KIND: Record<ApiKey["kind"], SecretKind> = { PERSONAL: "ogp", TEAM: "ogt", SERVICE_ACCOUNT: "ogs" };

/** Stores a new key (its hash only) and returns the row with the secret, to be shown once. */
export async function insertApiKey(
  tx: Tx,
  values: Omit<NewRow<"api_keys">, "id" | "prefix" | "secret_hash">,
): Promise<{ apiKey: ApiKey; secret: string }> {
  const { secret, hash, prefix } = generateSecret(SECRET_KIND[values.kind]);
  const apiKey = await tx
    .insertInto("api_keys")
    .values({ ...values, id: newId("ApiKey"), prefix, secret_hash: hash })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { apiKey, secret };
}

/**
 * Revokes every live key that acts as the user, or whose current or previous secret the user
 * minted (created, or obtained by rotating it), themselves or through a service account they
 * created, or one such an account created in turn (a hijacker holding its key acts as it);
 * returns them. The accounts: a recursive walk down service_accounts.created_by.
 */
export const revokeKeysMintedBy = (tx: Tx, userId: string, at: Date) =>
  tx
    .withRecursive("minted_accounts(id)", (db) =>
      db
        .selectFrom("service_accounts")
        .select("service_accounts.id")
        .where("service_accounts.created_by", "=", userId)
        .union(
          db
            .selectFrom("service_accounts")
            .innerJoin("minted_accounts", "minted_accounts.id", "service_accounts.created_by")
            .select("service_accounts.id"),
        ),
    )
    .updateTable("api_keys")
    .set({ revoked_at: at })
    .where((eb) => {
      const minters = (column: "created_by" | "rotated_by" | "previous_rotated_by") =>
        eb.or([eb(column, "=", userId), eb(column, "in", eb.selectFrom("minted_accounts").select("minted_accounts.id"))]);
      return eb.or([eb("user_id", "=", userId), minters("created_by"), minters("rotated_by"), minters("previous_rotated_by")]);
    })
    .where("revoked_at", "is", null)
    .returningAll()
    .execute();

/**
 * A new secret for the key, in place (same id, so its relationships, scope and usage stay):
 * the current secret becomes the previous one until `previousUntil` (null: it dies now), and
 * any earlier previous secret dies. Locked by the row: of two concurrent rotations the second
 * demotes the first's secret. Returns the row and the new secret (shown once).
 */
export async function rotateKeySecret(
  tx: Tx,
  key: ApiKey,
  values: { previousUntil: Date | null; rotatedBy: string; at: Date; expiresAt: Date | null },
): Promise<{ apiKey: ApiKey; secret: string } | undefined> {
  const { secret, hash, prefix } = generateSecret(SECRET_KIND[key.kind]);
  const apiKey = await tx
    .updateTable("api_keys")
    .set((eb) => ({
      secret_hash: hash,
      prefix,
      previous_secret_hash: values.previousUntil ? eb.ref("secret_hash") : null,
      previous_secret_expires_at: values.previousUntil,
      previous_rotated_by: values.previousUntil ? eb.ref("rotated_by") : null,
      rotated_by: values.rotatedBy,
      rotated_at: values.at,
      expires_at: values.expiresAt,
    }))
    .where("id", "=", key.id)
    .where("revoked_at", "is", null)
    .returningAll()
    .executeTakeFirst();
  return apiKey && { apiKey, secret };
}

/** Sets revoked_at, keeping the first revocation's time; returns the key. */
export const markKeyRevoked = (tx: Tx, id: string, at: Date) =>
  tx.updateTable("api_keys").set({ revoked_at: at }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();

/** The team's keys and its service accounts' keys, in id order. */
export const listTeamApiKeys = (db: Db, teamId: string) =>
  db.selectFrom("api_keys").selectAll().where("team_id", "=", teamId).orderBy("id").execute();

/** Which of `ids` are environments or models (`table`) of the team. */
export const findScopeIdsInTeam = (db: Db | Tx, table: "environments" | "models", teamId: string, ids: string[]) =>
  db.selectFrom(table).select("id").where("team_id", "=", teamId).where("id", "in", ids).execute();

/** The environments among a key's scope ids, by name. */
export const findScopedEnvironments = (db: Db, ids: string[]) =>
  ids.length === 0 ? Promise.resolve([]) : db.selectFrom("environments").selectAll().where("id", "in", ids).orderBy("name").execute();

/** The models among a key's scope ids, by name. */
export const findScopedModels = (db: Db, ids: string[]) =>
  ids.length === 0 ? Promise.resolve([]) : db.selectFrom("models").selectAll().where("id", "in", ids).orderBy("name").execute();

/**
 * Moves each key's last_used_at forward to the time given (never back), in one statement:
 * a statement per key blocked PGlite (one connection, on the main thread) for hundreds of
 * milliseconds at a time under gateway load.
 */
export async function recordLastUsed(db: Db, entries: [keyId: string, at: Date][]): Promise<void> {
  if (entries.length === 0) return;
  const values = sql.join(entries.map(([keyId, at]) => sql`(${keyId}, ${at.toISOString()}::timestamptz)`));
  await sql`update api_keys set last_used_at = greatest(api_keys.last_used_at, used.at)
    from (values ${values}) as used(id, at) where api_keys.id = used.id`.execute(db);
}

export const findKeyIdsOfServiceAccount = async (tx: Tx, serviceAccountId: string) =>
  (await tx.selectFrom("api_keys").select("id").where("service_account_id", "=", serviceAccountId).execute()).map((key) => key.id);

/**
 * Brings the user's live personal keys within `cap` (expires_at = least(coalesce(expires_at,
 * cap), cap)): a key that never expires, or outlives the cap, now ends at it. Returns the ids.
 */
export const capPersonalKeyExpiry = async (tx: Tx, userId: string, cap: Date) =>
  (
    await tx
      .updateTable("api_keys")
      .set({ expires_at: sql<Date>`least(coalesce(expires_at, ${cap}), ${cap})` })
      .where("user_id", "=", userId)
      .where("kind", "=", "PERSONAL")
      .where("revoked_at", "is", null)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", cap)]))
      .returning("id")
      .execute()
  ).map((key) => key.id);
