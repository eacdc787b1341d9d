// One logical call to Dojo: attempts, interpretation of each response, and the retry decision.
import type { Context } from "@opentelemetry/api";
import type { Logger } from "../logger.ts";
import { startClientSpan } from "../ops/tracing.ts";
import type { DojoAccount, DojoAccounts } from "./accounts.ts";
import { type DojoError, type DojoResult, dojoError } from "./errors.ts";
import { isJsonMediaType, parseProblem } from "./problem.ts";
import { nextDelay, type RetryPolicy, sleep } from "./retry.ts";
import { classifyStatus, parseRetryAfter } from "./status.ts";
import type { DojoTransport, HttpResponse } from "./transport.ts";

/** Which failures a call may retry on its own. */
export type RetryMode =
  /** Reads and keyed refunds: anything not definitive (the refund resends the same key). */
  | "unless-definitive"
  /** Capture, reversal and intent creation have no idempotency key: only "never sent" failures. */
  | "only-unsent";

export interface CallSpec<T> {
  readonly operation: string;
  /** The path with its ids as placeholders (`url.template` of the request's span). */
  readonly template: string;
  readonly account: DojoAccount;
  readonly merchantId: string | undefined;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
  readonly idempotencyKey?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly trace?: Context | undefined;
  readonly retry: RetryMode;
  /** Turns a 2xx JSON body into the result, or undefined when it lacks what we rely on. */
  readonly read: (json: unknown) => T | undefined;
}

/** Hears of every HTTP request to Dojo (metrics). Must be cheap and must not throw. */
export interface DojoObserver {
  /**
   * One request ended: `status` is the HTTP status, undefined when no response came (not sent,
   * timed out, connection lost); `attempt` counts from 1 within the call.
   */
  requestEnded(operation: string, status: number | undefined, seconds: number, attempt: number): void;
}

export interface CallContext {
  readonly transport: DojoTransport;
  /** Where requests go: the server's address on request spans. */
  readonly server: { readonly address: string; readonly port: number; readonly base: string };
  readonly observer: DojoObserver | undefined;
  readonly accounts: DojoAccounts;
  readonly policy: RetryPolicy;
  readonly random: () => number;
  readonly logger: Logger;
}

export async function runCall<T>(ctx: CallContext, spec: CallSpec<T>): Promise<DojoResult<T>> {
  const started = performance.now();
  const log = {
    op: spec.operation,
    merchantId: spec.merchantId,
    account: spec.account.fingerprint,
    idempotencyKey: spec.idempotencyKey,
  };
  for (let attempt = 1; ; attempt++) {
    const attemptStart = performance.now();
    // No attempt may outlive the retry budget, so the whole call ends within budgetMs.
    const remainingMs = ctx.policy.budgetMs - (attemptStart - started);
    const outcome = await attemptOnce(ctx, spec, remainingMs, attempt);
    const durationMs = Math.round(performance.now() - attemptStart);
    if (outcome.ok) {
      // Checked first: this is the hot path, and building the log object costs an allocation per call.
      if (ctx.logger.isLevelEnabled("debug"))
        ctx.logger.debug({ ...log, attempt, durationMs }, "dojo call succeeded");
      return { ok: true, value: outcome.value, attempts: attempt };
    }
    const error = scrubError(ctx.accounts, outcome.error);
    const delay = mayRetry(spec.retry, error)
      ? nextDelay({
          failures: attempt,
          elapsedMs: performance.now() - started,
          retryAfterMs: error.retryAfterMs,
          policy: ctx.policy,
          random: ctx.random,
        })
      : undefined;
    const fields = { ...log, attempt, durationMs, code: error.code, kind: error.kind, status: error.status };
    // A caller abort during the wait ends the call with the last attempt's error: that attempt's outcome
    // (for example "nothing was sent") is what the caller needs to know.
    if (delay === undefined || !(await sleepUnlessAborted(delay, spec.signal, ctx, fields))) {
      ctx.logger.debug(fields, "dojo call failed");
      return { ok: false, error, attempts: attempt };
    }
  }
}

async function sleepUnlessAborted(
  delay: number,
  signal: AbortSignal | undefined,
  ctx: CallContext,
  fields: Record<string, unknown>,
): Promise<boolean> {
  ctx.logger.warn({ ...fields, retryInMs: delay }, "dojo call failed, retrying");
  return sleep(delay, signal);
}

function mayRetry(mode: RetryMode, error: DojoError): boolean {
  if (error.code === "aborted") return false;
  return mode === "unless-definitive" ? error.kind !== "definitive" : error.kind === "retryable";
}

type AttemptOutcome<T> = { ok: true; value: T } | { ok: false; error: DojoError };

async function attemptOnce<T>(
  ctx: CallContext,
  spec: CallSpec<T>,
  totalMs: number,
  attempt: number,
): Promise<AttemptOutcome<T>> {
  if (spec.signal?.aborted)
    return { ok: false, error: dojoError("aborted", "the caller aborted the request") };
  const span = startClientSpan(spec.trace, `${spec.method} ${spec.template}`, () => ({
    "http.request.method": spec.method,
    "url.template": spec.template,
    "url.full": `${ctx.server.base}${spec.path}`,
    "server.address": ctx.server.address,
    "server.port": ctx.server.port,
    "refund_relay.dojo.operation": spec.operation,
    ...(attempt > 1 ? { "http.request.resend_count": attempt - 1 } : {}),
  }));
  let headers = spec.headers;
  if (span !== undefined) {
    headers = { ...spec.headers };
    span.inject(headers);
  }
  const started = performance.now();
  const sent = await ctx.transport.send({
    account: spec.account,
    method: spec.method,
    path: spec.path,
    headers,
    body: spec.body,
    signal: spec.signal,
    totalMs,
  });
  const status = sent.ok ? sent.response.status : undefined;
  ctx.observer?.requestEnded(spec.operation, status, (performance.now() - started) / 1000, attempt);
  if (!sent.ok) {
    span?.end(undefined, sent.error.code);
    return sent;
  }
  span?.end(status, status !== undefined && status >= 400 ? String(status) : undefined);
  return interpret(sent.response, spec);
}

function interpret<T>(res: HttpResponse, spec: CallSpec<T>): AttemptOutcome<T> {
  if (res.status >= 200 && res.status < 300) {
    const value = isJsonMediaType(res.contentType) ? spec.read(parseJson(res.bodyText)) : undefined;
    if (value !== undefined) return { ok: true, value };
    return {
      ok: false,
      error: dojoError("unexpected_response", `Dojo answered HTTP ${res.status} with a body we cannot read`, {
        status: res.status,
      }),
    };
  }
  const problem = parseProblem(res.contentType, res.bodyText);
  const retryAfterMs = parseRetryAfter(res.retryAfter);
  const idempotent = spec.idempotencyKey !== undefined;
  return { ok: false, error: classifyStatus({ status: res.status, problem, retryAfterMs, idempotent }) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Messages and problem texts may quote foreign text; make sure no configured key survives in them. */
function scrubError(accounts: DojoAccounts, error: DojoError): DojoError {
  const text = JSON.stringify(error);
  const clean = accounts.scrub(text);
  return clean === text ? error : (JSON.parse(clean) as DojoError);
}
