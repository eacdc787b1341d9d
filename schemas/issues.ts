// Turns zod issues into `{ path, message }` pairs that name the field the way a person writes it:
// `data.lines[0].amount.value`. Paths and messages can echo attacker-controlled keys, so both are bounded and
// stripped of control characters before they reach logs or a refund.failed message.
import type { z } from "zod";

export interface Issue {
  readonly path: string;
  readonly message: string;
}

export const MAX_ISSUES = 100;
const MAX_SEGMENT = 64;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Replaces control characters and lone surrogates, and cuts to `max` characters. */
export function sanitizeText(value: string, max: number): string {
  const clean = value.toWellFormed().replace(/\p{Cc}/gu, "?");
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") {
      out += `[${segment}]`;
    } else {
      const name = sanitizeText(String(segment), MAX_SEGMENT);
      out += IDENTIFIER.test(name) ? (out === "" ? name : `.${name}`) : `[${JSON.stringify(name)}]`;
    }
  }
  return out;
}

export function fromZodIssues(
  issues: ReadonlyArray<z.core.$ZodIssue>,
  prefix: ReadonlyArray<PropertyKey> = [],
): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: "unknown field" });
    } else if (issue.code === "invalid_key" && issue.issues[0] !== undefined) {
      out.push({ path: formatPath(path), message: sanitizeText(issue.issues[0].message, 300) });
    } else {
      out.push({ path: formatPath(path), message: sanitizeText(issue.message, 300) });
    }
  }
  return out.slice(0, MAX_ISSUES);
}

/**
 * Per-parse error map: zod's default for an absent field ("expected string, received undefined") reads as a
 * type problem; say what it is. Returning undefined keeps the schema's own message.
 */
export const PARSE_OPTIONS = {
  error: (issue: { code: string; input?: unknown }) =>
    issue.code === "invalid_type" && issue.input === undefined ? "is required" : undefined,
};

/** One line naming the first few fields, for logs and refund.failed messages. */
export function summarize(prefix: string, issues: ReadonlyArray<Issue>, max = 1000): string {
  const shown = issues.slice(0, 3).map((i) => `${i.path === "" ? "(message)" : i.path}: ${i.message}`);
  const more = issues.length > 3 ? ` (+${issues.length - 3} more)` : "";
  return sanitizeText(`${prefix}: ${shown.join("; ")}${more}`, max);
}
