import { describe, expect, it } from "vitest";
import { isRfc3339 } from "../../../schemas/index.ts";

// A plain statement of the rule, written independently of the fast check: parse the fields with a
// capturing pattern and compare them against the calendar.
const SHAPE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

function reference(value: string): boolean {
  const m = SHAPE.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return false;
  if (hour > 23 || minute > 59 || second > 60) return false;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return false;
  return true;
}

function candidates(): string[] {
  const out: string[] = [];
  const years = ["1900", "2000", "2023", "2024", "2100", "2400"];
  const months = ["00", "01", "02", "04", "06", "09", "11", "12", "13"];
  const days = ["00", "01", "28", "29", "30", "31", "32"];
  const times = ["00:00:00", "23:59:59", "23:59:60", "23:59:61", "24:00:00", "12:60:00", "12:00:99"];
  const tails = ["Z", "z", ".5Z", ".123456789+05:30", "+23:59", "-24:00", "+00:60", "-00:00", "+5:30", ""];
  for (const y of years)
    for (const mo of months)
      for (const d of days)
        for (const t of times) for (const tail of tails) out.push(`${y}-${mo}-${d}T${t}${tail}`);
  out.push(
    "2024-02-29t10:00:00z",
    "2024-02-29 10:00:00Z",
    "2024-2-29T10:00:00Z",
    "",
    "Z",
    "2024-02-29T10:00:00Z ",
  );
  return out;
}

describe("isRfc3339", () => {
  it("agrees with a plain reading of RFC 3339 on every combination of edge values", () => {
    const values = candidates();
    const disagreements = values.filter((v) => isRfc3339(v) !== reference(v));
    expect(disagreements).toEqual([]);
    // Both answers occur, so the comparison means something.
    expect(values.filter(isRfc3339).length).toBeGreaterThan(1000);
    expect(values.filter((v) => !isRfc3339(v)).length).toBeGreaterThan(1000);
  });

  it("accepts leap days and leap seconds only where the calendar has them", () => {
    expect(isRfc3339("2024-02-29T23:59:60+05:30")).toBe(true);
    expect(isRfc3339("2000-02-29T00:00:00Z")).toBe(true);
    expect(isRfc3339("2100-02-29T00:00:00Z")).toBe(false);
    expect(isRfc3339("2026-02-30T10:00:00Z")).toBe(false);
    expect(isRfc3339("2026-04-31T10:00:00Z")).toBe(false);
    expect(isRfc3339("2026-03-02T24:00:00Z")).toBe(false);
    expect(isRfc3339("2026-03-02T10:00:00+24:00")).toBe(false);
    expect(isRfc3339("2026-03-02T10:00:00-23:60")).toBe(false);
  });
});
