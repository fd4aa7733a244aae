/**
 * Bounds on what an audit or security event records of a caller's input: anyone can send a
 * megabyte of arguments, and the log must not become the place that keeps it.
 */
export const MAX_STRING = 1024;
export const MAX_ITEMS = 100;
export const MAX_DIFF_BYTES = 4096;

/** Strings cut to MAX_STRING characters and arrays to MAX_ITEMS items, each cut saying what it removed. */
function capParts(value: unknown): unknown {
  if (typeof value === "string") {
    return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…[truncated ${value.length - MAX_STRING} characters]` : value;
  }
  if (Array.isArray(value)) {
    const kept = value.slice(0, MAX_ITEMS).map(capParts);
    return value.length > MAX_ITEMS ? [...kept, `…[truncated ${value.length - MAX_ITEMS} items]`] : kept;
  }
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [cut(k, 128), capParts(v)]));
  }
  return value;
}

/**
 * The diff as recorded: parts capped, then the whole bounded to MAX_DIFF_BYTES of JSON; over
 * that, a marker with the original size and the beginning of the JSON text.
 */
export function capDiff(diff: unknown): unknown {
  if (diff === null || diff === undefined) return diff;
  const capped = capParts(diff);
  const json = JSON.stringify(capped);
  if (Buffer.byteLength(json) <= MAX_DIFF_BYTES) return capped;
  return { truncated: true, bytes: Buffer.byteLength(json), preview: Buffer.from(json).subarray(0, MAX_DIFF_BYTES - 256).toString("utf8") };
}

const cut = (value: string, max: number) => (value.length > max ? `${value.slice(0, max)}…[truncated]` : value);

/** An error message as recorded (it may quote the input). */
export const capString = (value: string | null): string | null => (value === null ? null : cut(value, MAX_STRING));
