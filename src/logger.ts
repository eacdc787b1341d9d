// One pino logger factory for the whole process. Secrets are removed at two levels: known fields are
// redacted by path (pino's redact), and callers never pass raw API keys or credentials into log
// objects in the first place (see the Dojo client's key handling). Lines are JSON, or readable lines
// for a person (src/log-pretty.ts) when asked or when stdout is a terminal.
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { PrettyStream, useColor } from "./log-pretty.ts";

export type { Logger } from "pino";

/**
 * Field paths that may hold a secret or personal data anywhere they appear in a log object. Personal
 * data: the free text and metadata of a return (`reason` is redacted only inside an event's `data`,
 * since the word names many harmless fields), and customer details should any appear.
 */
export const REDACTED_PATHS: readonly string[] = [
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "req.headers.authorization",
  "password",
  "*.password",
  "secretAccessKey",
  "*.secretAccessKey",
  "sessionToken",
  "*.sessionToken",
  "credentials",
  "*.credentials",
  "sasl.password",
  "notes",
  "*.notes",
  "metadata",
  "*.metadata",
  "refundReason",
  "*.refundReason",
  "data.reason",
  "*.data.reason",
  "email",
  "*.email",
  "customer",
  "*.customer",
];

/** json: one JSON object per line; pretty: readable, optionally colored lines (src/log-pretty.ts). */
export type LogFormat = "json" | "pretty";

export interface LoggerSettings {
  readonly level?: string;
  readonly name?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read lines back. */
  readonly destination?: NodeJS.WritableStream;
  /** Default json. */
  readonly format?: LogFormat;
  /** Colors of the pretty format; default: useColor() for the process's environment and stdout. */
  readonly color?: boolean;
}

/** LOG_FORMAT's `auto`: pretty lines for a person at a terminal, JSON for everything else. */
export function resolveLogFormat(setting: "auto" | LogFormat, stdoutIsTTY: boolean): LogFormat {
  if (setting !== "auto") return setting;
  return stdoutIsTTY ? "pretty" : "json";
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? "info",
    name: settings.name ?? "refund-relay",
    redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
    base: { pid: process.pid },
  };
  if (settings.format === "pretty") {
    const tty = settings.destination === undefined ? process.stdout.isTTY === true : false;
    const color = settings.color ?? useColor(process.env, tty);
    // Written synchronously: a line logged just before the process exits is not lost.
    const sink = settings.destination ?? pino.destination({ dest: 1, sync: true });
    return pino(options, new PrettyStream(sink, { color }) as unknown as DestinationStream);
  }
  return settings.destination === undefined ? pino(options) : pino(options, settings.destination);
}

/** A logger that drops everything: for unit tests and library callers that bring no logger. */
export const silentLogger: Logger = pino({ level: "silent" });
