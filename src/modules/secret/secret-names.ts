/**
 * Secret names are for those who may reference secrets (team ADMIN/MEMBER, chain editors:
 * `secrets_read_names`, `chain#read_secret_names`). Where a chain definition or an audit
 * event reaches anyone else, it keeps its structure with every `{"$secret": NAME}` NAME
 * replaced by null; `nameKeys` also nulls every `name` (a secret event's own diff).
 */
export function withoutSecretNames(value: unknown, options: { nameKeys?: boolean } = {}): unknown {
  if (Array.isArray(value)) return value.map((item) => withoutSecretNames(item, options));
  if (!value || typeof value !== "object" || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, inner]) => [
      key,
      (key === "$secret" || (options.nameKeys && key === "name")) && typeof inner === "string" ? null : withoutSecretNames(inner, options),
    ]),
  );
}
