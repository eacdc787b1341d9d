// The readable log format (LOG_FORMAT=pretty, or a terminal with LOG_FORMAT=auto): each JSON line pino
// writes is turned, synchronously and in the same thread, into one line for a person:
//
//   14:05:09.412 INFO  refund settled  eventId=5f0c… outcome=succeeded refundId=rfnd_… attempts=1
//
// time (local), the level (colored), the message, then the fields as key=value, the ones that identify
// a refund first. Redaction has already happened: the formatter only sees what pino would have
// written as JSON. Errors show their type and message; their stack is shown at error and fatal only.

/** pino's numeric levels and how a person reads them. */
const LEVELS: Readonly<Record<number, { readonly label: string; readonly color: string }>> = {
  10: { label: "TRACE", color: "\x1b[90m" },
  20: { label: "DEBUG", color: "\x1b[34m" },
  30: { label: "INFO ", color: "\x1b[32m" },
  40: { label: "WARN ", color: "\x1b[33m" },
  50: { label: "ERROR", color: "\x1b[31m" },
  60: { label: "FATAL", color: "\x1b[1;35m" },
};

const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
const BOLD = "\x1b[1m";

/** Fields every line has, shown in the line's head or not at all. */
const HEAD_FIELDS = new Set(["level", "time", "pid", "hostname", "name", "msg", "v", "component"]);

/** Fields shown first, in this order, when a line has them: what names a refund and how it ended. */
const LEADING_FIELDS = [
  "eventId",
  "returnId",
  "paymentIntentId",
  "idempotencyKey",
  "outcome",
  "code",
  "refundId",
  "attempts",
  "durationMs",
  "replayed",
] as const;

export interface PrettyOptions {
  /** ANSI colors (see useColor). */
  readonly color: boolean;
  /** Clock of the printed times; local time unless told (tests pass "UTC"). */
  readonly timeZone?: string;
}

/**
 * Whether pretty lines get colors: never with NO_COLOR set to anything non-empty (no-color.org);
 * always with FORCE_COLOR set to anything but "0" or empty; otherwise only on a terminal.
 */
export function useColor(env: Readonly<Record<string, string | undefined>>, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return isTTY;
}

/**
 * Characters that must not reach a terminal as they are: every control character (C0, with escape, tab and
 * newline; DEL; C1, with the one-byte CSI U+009B), the line and paragraph separators, and the bidirectional
 * formatting characters that reorder what is shown. Events and errors can put any of them in a field.
 */
const UNSAFE_CLASS = "[\\p{Cc}\\u2028\\u2029\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]";
const UNSAFE = new RegExp(UNSAFE_CLASS, "gu");
const HAS_UNSAFE = new RegExp(UNSAFE_CLASS, "u");

/** `\x1b`, `\x9b`, `\u202e`: what an unsafe character is shown as. */
function escaped(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Unsafe characters escaped (a newline too: nothing can start a line that looks like another record), and
 * lone surrogates replaced, which have no UTF-8 form.
 */
function printable(text: string): string {
  return text.toWellFormed().replace(UNSAFE, escaped);
}

/** A value as written after `key=`: bare when it reads unambiguously, else as JSON. */
function valueText(value: unknown): string {
  if (typeof value === "string") {
    const bare = value !== "" && value.isWellFormed() && !HAS_UNSAFE.test(value) && !/[\s"=\\]/.test(value);
    // JSON escapes C0 controls only: DEL, C1 and the rest are escaped after it.
    return bare ? value : printable(JSON.stringify(value));
  }
  if (value === undefined) return "undefined";
  return printable(JSON.stringify(value) ?? String(value));
}

interface SerializedError {
  readonly type?: string;
  readonly message?: string;
  readonly stack?: string;
  readonly code?: string;
}

function errorText(err: SerializedError): string {
  const head = err.type !== undefined && err.type !== "Error" ? `${err.type}: ` : "";
  const code =
    err.code !== undefined && !String(err.message ?? "").includes(err.code) ? ` (${err.code})` : "";
  return valueText(`${head}${err.message ?? ""}${code}`);
}

const clocks = new Map<string | undefined, Intl.DateTimeFormat>();

function clock(time: unknown, timeZone: string | undefined): string {
  const date = typeof time === "number" ? new Date(time) : new Date();
  let format = clocks.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-GB", {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      ...(timeZone === undefined ? {} : { timeZone }),
    });
    clocks.set(timeZone, format);
  }
  return `${format.format(date)}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

/**
 * One JSON log line (as pino writes it, with or without its newline) as a readable line ending in a
 * newline. Anything that is not a JSON object is passed on unchanged.
 */
export function formatLogLine(line: string, options: PrettyOptions): string {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      throw new Error("not an object");
    record = parsed as Record<string, unknown>;
  } catch {
    return line.endsWith("\n") ? line : `${line}\n`;
  }
  const paint = (code: string, text: string) => (options.color ? `${code}${text}${RESET}` : text);
  const level = typeof record.level === "number" ? record.level : 30;
  const known = LEVELS[level] ?? { label: String(record.level).padEnd(5), color: "" };
  const head = [paint(DIM, clock(record.time, options.timeZone)), paint(known.color, known.label)];
  if (typeof record.component === "string") head.push(paint(DIM, `[${printable(record.component)}]`));
  const msg = typeof record.msg === "string" ? printable(record.msg) : "";
  if (msg !== "") head.push(level >= 40 ? paint(BOLD, msg) : msg);

  const keys = [
    ...LEADING_FIELDS.filter((k) => k in record),
    ...Object.keys(record).filter(
      (k) => !HEAD_FIELDS.has(k) && !(LEADING_FIELDS as readonly string[]).includes(k),
    ),
  ];
  const fields: string[] = [];
  let stack: string | undefined;
  for (const key of keys) {
    const value = record[key];
    if (key === "err" && value !== null && typeof value === "object") {
      const err = value as SerializedError;
      fields.push(`${paint(DIM, "err=")}${errorText(err)}`);
      if (level >= 50 && typeof err.stack === "string") stack = err.stack;
      continue;
    }
    const text = `${paint(DIM, `${printable(key)}=`)}${valueText(value)}`;
    fields.push(key === "alert" && value === true ? paint("\x1b[31m", text) : text);
  }
  let out = fields.length === 0 ? head.join(" ") : `${head.join(" ")}  ${fields.join(" ")}`;
  if (stack !== undefined) {
    // The first line of a stack repeats the message shown already.
    const frames = stack.split("\n").slice(1);
    if (frames.length > 0)
      out += `\n${paint(DIM, frames.map((f) => `    ${printable(f.trim())}`).join("\n"))}`;
  }
  return `${out}\n`;
}

/** Where formatted lines go: anything with a synchronous-enough write (stdout, a file stream). */
export interface LineSink {
  write(chunk: string): unknown;
}

/**
 * A destination for pino that formats each line and writes it on at once, in the calling thread (no
 * worker, unlike pino's transports), so nothing is lost or reordered when the process exits.
 */
export class PrettyStream {
  readonly #sink: LineSink;
  readonly #options: PrettyOptions;

  constructor(sink: LineSink, options: PrettyOptions) {
    this.#sink = sink;
    this.#options = options;
  }

  write(chunk: string): boolean {
    // pino writes one line per call; split anyway, in case several arrive together.
    const lines = chunk.split("\n").filter((l) => l !== "");
    this.#sink.write(lines.map((l) => formatLogLine(l, this.#options)).join(""));
    return true;
  }
}
