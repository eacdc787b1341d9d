// One pino logger factory for the whole process. Secrets are removed at two levels: known fields are
// redacted by path (pino's redact), and callers never pass raw API keys or credentials into log
// objects in the first place (see the Dojo client's key handling).
import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

/** Field paths that may hold a secret anywhere they appear in a log object. */
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
  "sasl.password",
];

export interface LoggerSettings {
  readonly level?: string;
  readonly name?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read lines back. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? "info",
    name: settings.name ?? "refund-relay",
    redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
    base: { pid: process.pid },
  };
  return settings.destination === undefined ? pino(options) : pino(options, settings.destination);
}

/** A logger that drops everything: for unit tests and library callers that bring no logger. */
export const silentLogger: Logger = pino({ level: "silent" });
