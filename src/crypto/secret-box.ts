import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../logger.js";

/**
 * Encrypts secret values at rest with AES-256-GCM. Each value gets a fresh 96-bit IV, and its
 * team and name are bound in as associated data, so a ciphertext copied onto another row
 * does not decrypt. No API decrypts: values are write-only; `open` exists for the services
 * that will hand them to deployments, and for the test that proves the round trip.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error("The secret key must be 32 bytes");
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64");
  }

  open(sealed: string, context: string): string {
    const bytes = Buffer.from(sealed, "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.key, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8");
  }
}

/** The generated key's file in the data folder (a backup of the folder carries it). */
export const secretKeyPath = (dataDir: string) => join(dataDir, "secret.key");

/**
 * The key: ORGRAPH_SECRET_KEY (32 bytes, base64) when set. Otherwise one generated once into
 * the data folder, with a warning: fine for one machine, but every API server must share the
 * same key, so set ORGRAPH_SECRET_KEY in production.
 */
export function loadSecretKey(configured: string | undefined, dataDir: string, logger: Logger): Buffer {
  if (configured) return Buffer.from(configured, "base64");
  const path = secretKeyPath(dataDir);
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, randomBytes(32).toString("base64"), { mode: 0o600 });
    logger.warn({ path }, "ORGRAPH_SECRET_KEY is not set: generated a secret-encryption key in the data folder");
  }
  return Buffer.from(readFileSync(path, "utf8").trim(), "base64");
}
