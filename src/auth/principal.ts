import type { ObjectRef } from "../authz/model.js";

/** An API key, with its own per-minute limit of the gateway when it has one (modules/gateway/limits.ts). */
export type KeyCredential = {
  method: "api_key";
  keyId: string;
  requestsPerMinute?: number;
  /** Authenticated with the key's previous secret, in its rotation grace period: it may not mint credentials (caller.ts). */
  previousSecret?: true;
};

/** Who is calling, and how they proved it. */
export type Principal =
  | {
      kind: "USER";
      id: string;
      via: KeyCredential | { method: "jwt"; subject: string } | { method: "invitation"; invitationId: string };
    }
  | { kind: "SERVICE_ACCOUNT"; id: string; teamId: string; via: KeyCredential }
  | { kind: "API_KEY"; id: string; teamId: string; via: KeyCredential };

const SUBJECT_TYPE = { USER: "user", SERVICE_ACCOUNT: "service_account", API_KEY: "api_key" } as const;

/** The SpiceDB subject the principal acts as. */
export function subjectOf(principal: Principal): ObjectRef {
  return { type: SUBJECT_TYPE[principal.kind], id: principal.id };
}

/** The id of the API key the caller authenticated with, if any. */
export const keyIdOf = (principal: Principal | undefined): string | undefined =>
  principal?.via.method === "api_key" ? principal.via.keyId : undefined;

/** What identified the caller, for the audit log: the key id, the JWT subject or the invitation id. */
export function credentialOf(principal: Principal): string {
  const via = principal.via;
  return via.method === "api_key" ? via.keyId : via.method === "jwt" ? via.subject : via.invitationId;
}
