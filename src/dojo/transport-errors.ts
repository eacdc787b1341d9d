// Maps what undici and the socket layer throw to the catalogue. The line that matters for money: was the
// request possibly written? Connect failures happen before any byte is sent (retryable); everything
// after that point (header/body timeouts, resets) may have reached Dojo (indeterminate).
import { type DojoError, dojoError } from "./errors.ts";

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);
const RESET_CODES = new Set([
  "UND_ERR_SOCKET",
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);
// Misuse of undici or of a closed client is a bug in this process, not an outcome to report.
const BUG_CODES = new Set([
  "UND_ERR_INVALID_ARG",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "ERR_INVALID_ARG_TYPE",
]);

export interface AbortState {
  /** The caller's own signal fired. */
  readonly callerAborted: boolean;
  /** Our per-attempt total deadline fired. */
  readonly deadlineFired: boolean;
  readonly totalMs: number;
}

export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === "string") return e.code;
  // Happy-eyeballs connects fail with an AggregateError whose members carry the codes.
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = errorCodeOf(inner);
      if (code !== undefined) return code;
    }
  }
  return e.cause === undefined ? undefined : errorCodeOf(e.cause);
}

/** Classifies a failed exchange; rethrows errors that can only come from a bug. */
export function classifyTransportError(error: unknown, abort: AbortState): DojoError {
  if (abort.callerAborted) return dojoError("aborted", "the caller aborted the request");
  if (abort.deadlineFired) return dojoError("timeout", `no complete response within ${abort.totalMs} ms`);
  const code = errorCodeOf(error);
  if (code !== undefined && BUG_CODES.has(code)) throw error;
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return dojoError("connect_failed", `could not connect to Dojo (${code})`);
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    const which = code === "UND_ERR_HEADERS_TIMEOUT" ? "headers" : "body";
    return dojoError("timeout", `the response ${which} did not arrive in time (${code})`);
  }
  if (code !== undefined && RESET_CODES.has(code)) {
    return dojoError("connection_reset", `the connection broke after sending (${code})`);
  }
  if (code === "UND_ERR_RES_EXCEEDED_MAX_SIZE") {
    return dojoError("unexpected_response", "the response body was larger than allowed");
  }
  if (code === "UND_ERR_ABORTED" || (error instanceof Error && error.name === "AbortError")) {
    return dojoError("aborted", "the request was aborted");
  }
  // Unknown failures are treated as "may have been sent": the safe reading for money.
  return dojoError("connection_reset", `the exchange with Dojo failed (${code ?? "unknown error"})`);
}
