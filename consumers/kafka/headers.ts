import type { IHeaders } from "kafkajs";

/**
 * Kafka headers as lowercase names with string values (the last value wins for repeated names).
 * Headers with a null value (Kafka allows them; kafkajs returns null) are left out. Never throws: a
 * header problem must not stop a message from reaching the pipeline, which answers or dead-letters it.
 */
export function headersToRecord(headers: IHeaders | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined || headers === null) return out;
  for (const [name, raw] of Object.entries(headers)) {
    const value: unknown = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (typeof value !== "string" && !Buffer.isBuffer(value)) continue;
    out[name.toLowerCase()] = typeof value === "string" ? value : value.toString("utf8");
  }
  return out;
}
