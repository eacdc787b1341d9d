import { hash } from "node:crypto";

/** JSON with object keys sorted at every level, so equal content always gives equal text. */
export function canonicalJson(value: unknown): string {
  // Loops rather than entries/filter/sort/map/join: this runs for every event, and the output is the same.
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      // `?? ""` as join does: JSON.stringify gives undefined for undefined (and functions) at run time.
      out += (i === 0 ? "" : ",") + ((canonicalJson(value[i]) as string | undefined) ?? "");
    }
    return `${out}]`;
  }
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    // The default sort orders by UTF-16 code units, as comparing with < and > does.
    const keys = Object.keys(record).sort();
    let out = "{";
    for (const key of keys) {
      const v = record[key];
      if (v === undefined) continue;
      out += `${out.length === 1 ? "" : ","}${JSON.stringify(key)}:${canonicalJson(v)}`;
    }
    return `${out}}`;
  }
  return JSON.stringify(value);
}

/**
 * Fingerprint of what an event asks for: its data, independent of key order and of envelope details
 * such as `time`. A redelivery with the same id but another fingerprint is an idempotency conflict.
 */
export function requestHash(data: unknown): string {
  return hash("sha256", canonicalJson(data), "hex");
}
