// One catalogue of every outcome the Dojo client reports as a failure. Each code has a fixed kind, so a
// caller decides "publish refund.failed", "retry with the same key" or "resend" from the code alone.
import type { ProblemDetails } from "./problem.ts";

/**
 * - definitive: Dojo certainly did not apply the request and will not apply it later.
 * - retryable: the request never left this process (or never reached Dojo); resending is safe.
 * - indeterminate: Dojo may or may not have applied it; a refund may only be retried with the same
 *   idempotency key, and other operations only after re-reading the payment intent.
 */
export type DojoErrorKind = "definitive" | "retryable" | "indeterminate";

export const DOJO_ERROR_CATALOGUE = {
  bad_request: { kind: "definitive", description: "Dojo rejected the request as invalid (HTTP 400)." },
  unauthorized: {
    kind: "definitive",
    description: "The API key is missing, malformed or not accepted (HTTP 401).",
  },
  forbidden: { kind: "definitive", description: "The API key may not perform this operation (HTTP 403)." },
  not_found: { kind: "definitive", description: "The payment intent or refund does not exist (HTTP 404)." },
  method_not_allowed: {
    kind: "definitive",
    description: "Wrong HTTP method for the path (HTTP 405); a bug.",
  },
  conflict: {
    kind: "definitive",
    description: "The operation is not allowed in the payment intent's current state (HTTP 409).",
  },
  idempotency_in_flight: {
    kind: "indeterminate",
    description:
      "HTTP 409: an earlier request with the same idempotency key is still being processed. " +
      "It may still succeed; retry with the same key.",
  },
  idempotency_mismatch: {
    kind: "definitive",
    description:
      "HTTP 409: the idempotency key was already used with a different request. This request was not " +
      "applied, but the earlier one may have been: reconcile by reading the payment intent.",
  },
  unprocessable: { kind: "definitive", description: "Dojo understood but refused the request (HTTP 422)." },
  client_error: { kind: "definitive", description: "Another 4xx status that Dojo does not document." },
  rate_limited: {
    kind: "indeterminate",
    description: "Too many requests (HTTP 429); Dojo documents no rate limits, so treat it with care.",
  },
  server_error: { kind: "indeterminate", description: "Dojo or a gateway failed (HTTP 5xx)." },
  timeout: {
    kind: "indeterminate",
    description:
      "No complete response within the headers, body or total deadline after the request was sent.",
  },
  connection_reset: {
    kind: "indeterminate",
    description: "The connection broke after the request may have been written.",
  },
  connect_failed: {
    kind: "retryable",
    description: "No connection could be made (refused, DNS, connect timeout): nothing was sent.",
  },
  unknown_merchant: {
    kind: "definitive",
    description: "No API key is configured for the merchant and there is no default key.",
  },
  invalid_request: {
    kind: "definitive",
    description: "The request failed the client's own checks and was not sent.",
  },
  aborted: {
    kind: "indeterminate",
    description: "The caller's AbortSignal fired; the request may already have reached Dojo.",
  },
  unexpected_response: {
    kind: "indeterminate",
    description: "A response Dojo does not document (unparsable success body, 1xx/3xx status).",
  },
} as const satisfies Record<string, { kind: DojoErrorKind; description: string }>;

export type DojoErrorCode = keyof typeof DOJO_ERROR_CATALOGUE;

/** A failure as plain, serialisable data. It never holds an API key or a request header. */
export interface DojoError {
  readonly code: DojoErrorCode;
  readonly kind: DojoErrorKind;
  readonly status?: number;
  readonly message: string;
  readonly problem?: ProblemDetails;
  readonly retryAfterMs?: number;
}

export interface DojoErrorDetails {
  readonly status?: number | undefined;
  readonly problem?: ProblemDetails | undefined;
  readonly retryAfterMs?: number | undefined;
}

export function dojoError(code: DojoErrorCode, message: string, details: DojoErrorDetails = {}): DojoError {
  const error: {
    code: DojoErrorCode;
    kind: DojoErrorKind;
    message: string;
    status?: number;
    problem?: ProblemDetails;
    retryAfterMs?: number;
  } = { code, kind: DOJO_ERROR_CATALOGUE[code].kind, message };
  if (details.status !== undefined) error.status = details.status;
  if (details.problem !== undefined) error.problem = details.problem;
  if (details.retryAfterMs !== undefined) error.retryAfterMs = details.retryAfterMs;
  return error;
}

export type DojoResult<T> =
  | { readonly ok: true; readonly value: T; readonly attempts: number }
  | { readonly ok: false; readonly error: DojoError; readonly attempts: number };
