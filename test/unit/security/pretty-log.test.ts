// The pretty log format writes to a terminal: whatever an event, an error or a broker put in a field,
// no control character (C0, DEL, C1 such as the one-byte CSI), line separator or bidirectional override
// reaches it as it is, and no field can start a line of its own that reads like another record.
import { describe, expect, it } from "vitest";
import { formatLogLine } from "../../../src/log-pretty.ts";
import { createLogger } from "../../../src/logger.ts";

const T = Date.parse("2026-03-02T14:05:09.412Z");
const plain = { color: false, timeZone: "UTC" } as const;
const ESC = "\u001b";

const HOSTILE = [
  `${ESC}[2J${ESC}[H`, // clear the screen
  `${ESC}]0;pwned\u0007`, // set the window title
  `${ESC}]8;;https://evil.example\u0007link${ESC}]8;;\u0007`, // a hyperlink
  "\u009b31m", // CSI as one C1 character
  "\u0085next line", // NEL
  "bell\u0007",
  "del\u007f",
  "nul\u0000",
  "cr\roverwrite",
  "fake\n14:05:09.412 INFO  refund settled  outcome=succeeded",
  "sep\u2028arator\u2029",
  "bidi\u202eroloc\u202c\u2066x\u2069",
];

/** Everything but the line's own newline: must hold no unsafe character. */
function body(out: string): string {
  expect(out.endsWith("\n")).toBe(true);
  return out.slice(0, -1);
}

const COLORS = new RegExp(`${ESC}\\[[0-9;]*m`, "g");
const UNSAFE = /[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

function line(record: Record<string, unknown>): string {
  return JSON.stringify({ level: 30, time: T, pid: 1, name: "refund-relay", ...record });
}

describe("the pretty format escapes what could drive a terminal", () => {
  it.each(HOSTILE)("in the message, a field's value and a field's name: %j", (text) => {
    for (const record of [
      { msg: `m${text}` },
      { msg: "m", returnId: text },
      { msg: "m", eventId: `evt${text}` },
      { msg: "m", [`key${text}`]: "v" },
      { msg: "m", nested: { reason: text, list: [text] } },
      { msg: "m", component: `kafkajs${text}` },
      {
        level: 50,
        msg: "m",
        err: { type: `T${text}`, message: text, stack: `Error: x\n    at ${text} (a.ts:1:1)` },
      },
    ]) {
      for (const options of [plain, { color: true, timeZone: "UTC" }]) {
        const out = formatLogLine(line(record), options);
        // The formatter's own colors are the only escapes allowed.
        const shown = options.color ? body(out).replace(COLORS, "") : body(out);
        // Only the stack of an error spans lines, each one indented.
        const lines = shown.split("\n");
        for (const l of lines) expect(l).not.toMatch(UNSAFE);
        expect(lines.slice(1).every((l) => l.startsWith("    "))).toBe(true);
      }
    }
  });

  it("shows escaped characters visibly, so a person sees that they were there", () => {
    expect(formatLogLine(line({ msg: `a${ESC}[2Jb` }), plain)).toContain("a\\x1b[2Jb");
    expect(formatLogLine(line({ msg: "m", reason: "x\u009by" }), plain)).toContain('reason="x\\x9by"');
    expect(formatLogLine(line({ msg: "m", w: "x\u202ey" }), plain)).toContain('w="x\\u202ey"');
    expect(formatLogLine(line({ msg: "one\ntwo" }), plain)).toBe("14:05:09.412 INFO  one\\x0atwo\n");
  });

  it("leaves ordinary text alone", () => {
    expect(
      formatLogLine(line({ msg: "refund settled", returnId: "RMA-1", note: "café ünïcode" }), plain),
    ).toBe('14:05:09.412 INFO  refund settled  returnId=RMA-1 note="café ünïcode"\n');
  });

  it("holds for lines the logger writes in the pretty format", () => {
    let text = "";
    const destination = {
      write(chunk: string) {
        text += chunk;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    const logger = createLogger({ format: "pretty", color: false, destination });
    for (const value of HOSTILE) logger.warn({ eventId: value, source: value }, `refused ${value}`);
    const lines = text.split("\n").slice(0, -1);
    expect(lines).toHaveLength(HOSTILE.length);
    for (const l of lines) expect(l).not.toMatch(UNSAFE);
  });
});
