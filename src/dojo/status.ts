// HTTP status to catalogue code. Dojo's declared codes are 400/401/403/404/405/409/5xx; 422 and 429 are
// not documented but handled defensively (422 as a refusal, 429 as "may retry").
import { type DojoError, type DojoErrorCode, dojoError } from "./errors.ts";
import type { ProblemDetails } from "./problem.ts";

export interface StatusContext {
  readonly status: number;
  readonly problem: ProblemDetails | undefined;
  readonly retryAfterMs: number | undefined;
  /** True on create refund, the only operation with an idempotency key. */
  readonly idempotent: boolean;
}

export function classifyStatus(ctx: StatusContext): DojoError {
  const code = codeFor(ctx);
  const summary = ctx.problem?.title ?? ctx.problem?.detail ?? "no problem details";
  return dojoError(code, `Dojo answered HTTP ${ctx.status}: ${summary}`, {
    status: ctx.status,
    problem: ctx.problem,
    retryAfterMs: ctx.retryAfterMs,
  });
}

function codeFor({ status, problem, idempotent }: StatusContext): DojoErrorCode {
  if (status >= 500) return "server_error";
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return idempotent ? idempotencyConflict(problem) : "conflict";
    case 422:
      return "unprocessable";
    case 429:
      return "rate_limited";
  }
  return status >= 400 ? "client_error" : "unexpected_response";
}

/**
 * Dojo does not document 409 on refunds. A 409 whose problem text speaks of the idempotency key is read
 * as a key conflict: "in flight/in progress" means the earlier request may still succeed; otherwise the
 * key was used for a different request. Any other 409 is a state conflict.
 */
function idempotencyConflict(problem: ProblemDetails | undefined): DojoErrorCode {
  const text = `${problem?.type ?? ""} ${problem?.title ?? ""} ${problem?.detail ?? ""}`.toLowerCase();
  if (!text.includes("idempotency")) return "conflict";
  return /in[ -]?flight|in progress|being processed/.test(text)
    ? "idempotency_in_flight"
    : "idempotency_mismatch";
}

/** `Retry-After` as delay-seconds or an HTTP date, in milliseconds; undefined when absent or garbled. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
