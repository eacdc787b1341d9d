// The optional configuration file (RELAY_CONFIG_FILE, or `refund-relay start --config`): the same
// variables as the environment, as KEY=value lines (dotenv style) or as one JSON object. Parsing only;
// src/config.ts lays the environment over it and checks the names and values. No message here ever
// quotes a value from the file, since the file may hold secrets: problems name the file, the line and
// the key.
import { statSync } from "node:fs";

/** One setting read from the file, with the line it starts on (1-based). */
export interface ConfigFileEntry {
  readonly value: string;
  readonly line: number;
}

export interface ConfigFile {
  readonly path: string;
  readonly entries: ReadonlyMap<string, ConfigFileEntry>;
  /** Each as `<path>:<line>: <what is wrong>`. */
  readonly problems: readonly string[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses a config file's text; a text whose first character (after blanks) is `{` or `[` is JSON. */
export function parseConfigFile(path: string, text: string): ConfigFile {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  return /^\s*[{[]/.test(body) ? parseJson(path, body) : parseDotenv(path, body);
}

/**
 * KEY=value lines. Blank lines and lines starting with `#` are skipped; `export ` before a key is
 * allowed; blanks around `=` and around an unquoted value are dropped, and ` #` starts a comment
 * after an unquoted value. A value in double quotes takes the escapes \n \r \t \" \\ and may span
 * lines; one in single quotes is taken as written (also across lines). Nothing is expanded: `$HOME`
 * stays `$HOME`. A key given twice is a problem (which of two was meant cannot be known).
 */
function parseDotenv(path: string, text: string): ConfigFile {
  const entries = new Map<string, ConfigFileEntry>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  const at = (line: number, message: string) => problems.push(`${path}:${line}: ${message}`);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    // Only leading blanks go: a quoted value keeps what it holds up to its closing quote.
    const line = (lines[i] as string).trimStart();
    if (line.trim() === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/s.exec(line);
    if (match === null) {
      at(lineNo, "expected KEY=value");
      continue;
    }
    const key = match[1] as string;
    let rest = match[2] as string;
    if (!KEY.test(key)) {
      at(lineNo, "the key must be letters, digits and _, not starting with a digit");
      continue;
    }
    let value: string;
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      // The value runs to the closing quote, on this line or a later one.
      let raw = rest.slice(1);
      let close = closingQuote(raw, quote);
      while (close < 0 && i + 1 < lines.length) {
        i++;
        raw += `\n${lines[i]}`;
        close = closingQuote(raw, quote);
      }
      if (close < 0) {
        at(lineNo, `${key}: the ${quote === '"' ? "double" : "single"} quote opened here is never closed`);
        continue;
      }
      value = quote === '"' ? unescapeDoubleQuoted(raw.slice(0, close)) : raw.slice(0, close);
      rest = raw.slice(close + 1).trim();
      if (rest !== "" && !rest.startsWith("#")) {
        at(lineNo, `${key}: unexpected text after the closing quote`);
        continue;
      }
    } else {
      value = rest.replace(/\s+#.*$/s, "").trim();
    }
    const earlier = entries.get(key);
    if (earlier !== undefined) {
      at(lineNo, `${key} is set twice (lines ${earlier.line} and ${lineNo}); keep one`);
      continue;
    }
    entries.set(key, { value, line: lineNo });
  }
  return { path, entries, problems };
}

/** Index of the quote that closes a value in `raw` (which starts after the opening one), or -1. */
function closingQuote(raw: string, quote: string): number {
  for (let i = 0; i < raw.length; i++) {
    if (quote === '"' && raw[i] === "\\") i++;
    else if (raw[i] === quote) return i;
  }
  return -1;
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

function unescapeDoubleQuoted(value: string): string {
  return value.replace(/\\(.)/gs, (all, c: string) => ESCAPES[c] ?? all);
}

/** The 1-based line of a character offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === "\n") line++;
  return line;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * One JSON object of settings. Strings are taken as they are, numbers and booleans as written in the
 * environment; an object or array only for a variable whose name ends in `_JSON` (such as
 * DOJO_ACCOUNTS_JSON), where it stands for its JSON text.
 */
function parseJson(path: string, text: string): ConfigFile {
  const entries = new Map<string, ConfigFileEntry>();
  const problems: string[] = [];
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    // V8 names the offending offset; the rest of its message may quote the text, which may be a secret.
    const offset = /at position (\d+)/.exec((error as Error).message)?.[1];
    const where = offset === undefined ? path : `${path}:${lineOf(text, Number(offset))}`;
    problems.push(`${where}: not valid JSON`);
    return { path, entries, problems };
  }
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    problems.push(`${path}:1: expected a JSON object of settings ({"NAME": "value", ...})`);
    return { path, entries, problems };
  }
  for (const [key, raw] of Object.entries(document)) {
    const offset = new RegExp(`"${escapeRegExp(key)}"\\s*:`).exec(text)?.index ?? 0;
    const line = lineOf(text, offset);
    if (!KEY.test(key)) {
      problems.push(`${path}:${line}: the key must be letters, digits and _, not starting with a digit`);
      continue;
    }
    let value: string;
    if (typeof raw === "string") value = raw;
    else if (typeof raw === "number" || typeof raw === "boolean") value = String(raw);
    else if (raw !== null && typeof raw === "object" && key.endsWith("_JSON")) value = JSON.stringify(raw);
    else {
      problems.push(`${path}:${line}: ${key} must be a string, a number or true/false`);
      continue;
    }
    entries.set(key, { value, line });
  }
  return { path, entries, problems };
}

/** Group and others' permission bits of a file that holds secrets or could be changed by others. */
export function permissionWarnings(
  path: string,
  mode: number,
  secrets: readonly string[],
  origin = "RELAY_CONFIG_FILE",
): string[] {
  const warnings: string[] = [];
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  const readers = [mode & 0o040 ? "its group" : "", mode & 0o004 ? "every user" : ""].filter((w) => w);
  if (secrets.length > 0 && readers.length > 0) {
    warnings.push(
      `${origin} ${path} holds secrets (${secrets.join(", ")}) and can be read by ${readers.join(" and ")} (mode ${octal}); make it readable by its owner only (chmod 600)`,
    );
  }
  const writers = [mode & 0o020 ? "its group" : "", mode & 0o002 ? "every user" : ""].filter((w) => w);
  if (writers.length > 0) {
    warnings.push(
      `${origin} ${path} can be changed by ${writers.join(" and ")} (mode ${octal}), who could then change where refunds go; make it writable by its owner only`,
    );
  }
  return warnings;
}

/**
 * Files a transport reads (consumers/<transport>/config.ts) that hold a secret, with what they hold.
 * Warned about for their readers only: a replaced TLS key cannot redirect refunds, it only fails the
 * handshake or presents another client identity. The relay and the commands that connect to a
 * broker (`send`, `tail`) check them.
 */
export const TRANSPORT_SECRET_FILES: Readonly<Record<string, string>> = {
  KAFKA_SSL_KEY_FILE: "the Kafka client's TLS private key",
};

/** A file's mode bits, or undefined when it cannot be looked at (the checks are best effort). */
export function fileMode(path: string): number | undefined {
  try {
    return statSync(path).mode;
  } catch {
    return undefined;
  }
}

/**
 * permissionWarnings for a file whose secret is only worth protecting from readers (a password, a TLS
 * key): who can read it, without who can change it.
 */
export function readerWarnings(path: string, mode: number, holds: string, origin: string): string[] {
  // Without secrets permissionWarnings reports only who can change the file: those are left out.
  const writers = new Set(permissionWarnings(path, mode, [], origin));
  return permissionWarnings(path, mode, [holds], origin).filter((warning) => !writers.has(warning));
}

/** The warnings for a transport's secret file (none for other files, or on Windows). */
export function transportSecretFileWarnings(
  variable: string,
  path: string,
  mode: number | undefined,
): string[] {
  const holds = TRANSPORT_SECRET_FILES[variable];
  if (holds === undefined || mode === undefined || process.platform === "win32") return [];
  return readerWarnings(path, mode, holds, variable);
}
