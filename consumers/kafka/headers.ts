import type { IHeaders } from "kafkajs";

/** Kafka headers as lowercase names with string values (the last value wins for repeated names). */
export function headersToRecord(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const [name, raw] of Object.entries(headers)) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value === undefined) continue;
    out[name.toLowerCase()] = typeof value === "string" ? value : value.toString("utf8");
  }
  return out;
}
