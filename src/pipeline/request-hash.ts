import { createHash } from "node:crypto";

/** JSON with object keys sorted at every level, so equal content always gives equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Fingerprint of what an event asks for: its data, independent of key order and of envelope details
 * such as `time`. A redelivery with the same id but another fingerprint is an idempotency conflict.
 */
export function requestHash(data: unknown): string {
  return createHash("sha256").update(canonicalJson(data)).digest("hex");
}
