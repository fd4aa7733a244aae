import { createHash, randomBytes } from "node:crypto";

/**
 * Bearer secrets (API keys and invitation tokens): `<prefix>_<32 base62 chars><6 base62 checksum>`.
 * - the prefix tells the kind (`ogp` personal, `ogt` team, `ogs` service account, `ogi` invitation);
 * - 32 base62 characters carry 190 bits of randomness;
 * - the checksum (from SHA-256 of the rest) lets a secret scanner recognise a real key offline
 *   and lets us reject a mistyped key without a database round trip.
 * Only the SHA-256 of the whole secret is stored. A slow hash (bcrypt, argon2) protects
 * low-entropy passwords; for 190 random bits a fast hash is the standard choice and keeps
 * every authenticated request cheap.
 */
export type SecretKind = "ogp" | "ogt" | "ogs" | "ogi";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const SHAPE = /^(ogp|ogt|ogs|ogi)_([0-9A-Za-z]{38})$/;

export function generateSecret(kind: SecretKind): { secret: string; hash: string; prefix: string } {
  const body = randomBase62(BODY_LENGTH);
  const secret = `${kind}_${body}${checksum(`${kind}_${body}`)}`;
  return { secret, hash: hashSecret(secret), prefix: secret.slice(0, 12) };
}

/** The kind of a well-formed secret with a valid checksum, else undefined. */
export function parseSecret(secret: string): SecretKind | undefined {
  const match = SHAPE.exec(secret);
  if (!match) return undefined;
  const body = match[2]!;
  const expected = checksum(`${match[1]}_${body.slice(0, BODY_LENGTH)}`);
  return body.slice(BODY_LENGTH) === expected ? (match[1] as SecretKind) : undefined;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function checksum(text: string): string {
  const digest = createHash("sha256").update(text).digest();
  return Array.from(digest.subarray(0, CHECKSUM_LENGTH), (byte) => ALPHABET[byte % 62]).join("");
}

/** Uniform base62: bytes ≥ 248 are rejected so that every character is equally likely. */
function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}
