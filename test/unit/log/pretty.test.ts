// The readable log format: what a line looks like, colors and NO_COLOR, and that the logger in pretty
// mode still redacts before anything is formatted.
import { describe, expect, it } from "vitest";
import { formatLogLine, PrettyStream, useColor } from "../../../src/log-pretty.ts";
import { createLogger, resolveLogFormat } from "../../../src/logger.ts";

const T = Date.parse("2026-03-02T14:05:09.412Z");
const plain = { color: false, timeZone: "UTC" } as const;
const ESC = "\x1b";

function line(record: Record<string, unknown>): string {
  return JSON.stringify({ level: 30, time: T, pid: 7, name: "refund-relay", ...record });
}

describe("formatLogLine", () => {
  it("writes time, level, message, then key=value with the refund's identity first", () => {
    const out = formatLogLine(
      line({
        msg: "refund settled",
        durationMs: 84,
        outcome: "succeeded",
        eventId: "5f0c7c55",
        extra: "last",
        refundId: "rf_1",
        attempts: 1,
        replayed: false,
        paymentIntentId: "pi_1",
      }),
      plain,
    );
    expect(out).toBe(
      "14:05:09.412 INFO  refund settled  eventId=5f0c7c55 paymentIntentId=pi_1 outcome=succeeded refundId=rf_1 attempts=1 durationMs=84 replayed=false extra=last\n",
    );
  });

  it("leaves out pid, name and hostname, and shows the component before the message", () => {
    const out = formatLogLine(
      line({ level: 40, hostname: "h", component: "kafkajs", msg: "cannot reach broker", broker: "b:9092" }),
      plain,
    );
    expect(out).toBe("14:05:09.412 WARN  [kafkajs] cannot reach broker  broker=b:9092\n");
  });

  it("quotes strings with spaces, quotes or equals signs, and writes objects as JSON", () => {
    const out = formatLogLine(
      line({ msg: "m", a: "two words", b: 'x"y', c: "k=v", d: "", e: null, f: { x: [1, 2] }, g: 1.5 }),
      plain,
    );
    expect(out).toBe(
      '14:05:09.412 INFO  m  a="two words" b="x\\"y" c="k=v" d="" e=null f={"x":[1,2]} g=1.5\n',
    );
  });

  it("never passes a control character (an escape sequence) through to the terminal", () => {
    const out = formatLogLine(line({ msg: `evil${ESC}[2Jmsg`, v: `x${ESC}[31my` }), plain);
    expect(out).not.toContain(ESC);
    expect(out).toContain("evil\\x1b[2Jmsg");
  });

  it("shows an error's type and message; its stack only at error and fatal", () => {
    const err = {
      type: "TypeError",
      message: "boom",
      stack: "TypeError: boom\n    at f (a.ts:1:1)\n    at g (b.ts:2:2)",
    };
    const warn = formatLogLine(line({ level: 40, msg: "retrying", err }), plain);
    expect(warn).toBe('14:05:09.412 WARN  retrying  err="TypeError: boom"\n');
    const error = formatLogLine(line({ level: 50, msg: "failed", err }), plain);
    expect(error).toBe(
      '14:05:09.412 ERROR failed  err="TypeError: boom"\n    at f (a.ts:1:1)\n    at g (b.ts:2:2)\n',
    );
  });

  it("labels every pino level", () => {
    const labels = [10, 20, 30, 40, 50, 60].map((level) =>
      formatLogLine(line({ level, msg: "m" }), plain).slice(13, 18),
    );
    expect(labels).toEqual(["TRACE", "DEBUG", "INFO ", "WARN ", "ERROR", "FATAL"]);
  });

  it("colors the level (yellow for a warning) only when asked", () => {
    const colored = formatLogLine(line({ level: 40, msg: "m", k: 1 }), { color: true, timeZone: "UTC" });
    expect(colored).toContain(`${ESC}[33mWARN `);
    expect(formatLogLine(line({ level: 40, msg: "m", k: 1 }), plain)).not.toContain(ESC);
  });

  it("passes on what is not a JSON object", () => {
    expect(formatLogLine("not json", plain)).toBe("not json\n");
    expect(formatLogLine("[1,2]\n", plain)).toBe("[1,2]\n");
  });
});

describe("useColor", () => {
  it("follows the terminal, NO_COLOR turns colors off and FORCE_COLOR on", () => {
    expect(useColor({}, true)).toBe(true);
    expect(useColor({}, false)).toBe(false);
    expect(useColor({ NO_COLOR: "1" }, true)).toBe(false);
    expect(useColor({ NO_COLOR: "" }, true)).toBe(true);
    expect(useColor({ FORCE_COLOR: "1" }, false)).toBe(true);
    expect(useColor({ FORCE_COLOR: "0" }, false)).toBe(false);
    expect(useColor({ NO_COLOR: "1", FORCE_COLOR: "1" }, true)).toBe(false);
  });
});

describe("resolveLogFormat", () => {
  it("auto is pretty at a terminal and JSON otherwise; json and pretty are kept", () => {
    expect(resolveLogFormat("auto", true)).toBe("pretty");
    expect(resolveLogFormat("auto", false)).toBe("json");
    expect(resolveLogFormat("json", true)).toBe("json");
    expect(resolveLogFormat("pretty", false)).toBe("pretty");
  });
});

describe("createLogger with the pretty format", () => {
  function capture(): { destination: NodeJS.WritableStream; text: () => string } {
    let text = "";
    const destination = {
      write(chunk: string) {
        text += chunk;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    return { destination, text: () => text };
  }

  it("writes readable lines, synchronously, with secrets and personal data redacted", () => {
    const out = capture();
    const logger = createLogger({ format: "pretty", color: false, destination: out.destination });
    logger.info(
      {
        apiKey: "sk_sandbox_SECRET",
        headers: { authorization: "Bearer SECRET" },
        data: { reason: "Jane Doe's parcel" },
      },
      "hello",
    );
    const text = out.text();
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}hello {2}apiKey=\[redacted\] /);
    expect(text.endsWith("\n")).toBe(true);
    expect(text).not.toMatch(/SECRET|Jane/);
    expect(text).not.toContain('{"level"');
  });

  it("JSON stays the default format", () => {
    const out = capture();
    createLogger({ destination: out.destination }).info({ k: 1 }, "hello");
    expect(JSON.parse(out.text())).toMatchObject({ level: 30, msg: "hello", k: 1 });
  });

  it("PrettyStream formats several lines written at once", () => {
    const out = capture();
    const stream = new PrettyStream(out.destination as unknown as { write(c: string): unknown }, plain);
    stream.write(`${line({ msg: "a" })}\n${line({ msg: "b" })}\n`);
    expect(out.text()).toBe("14:05:09.412 INFO  a\n14:05:09.412 INFO  b\n");
  });
});
