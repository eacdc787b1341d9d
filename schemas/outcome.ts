// Builds and encodes the events the relay publishes. Builders validate against the emit view, so nothing that
// breaks the contract leaves the process.
import type { z } from "zod";
import type { FailureCode } from "./failure-codes.ts";
import { outcomeEventId } from "./identity.ts";
import { fromZodIssues, type Issue, PARSE_OPTIONS, sanitizeText, summarize } from "./issues.ts";
import { LIMITS } from "./limits.ts";
import { OUTCOME_CONTENT_TYPE, type Problem, type RefundMethod } from "./outcome-common.ts";
import {
  REFUND_FAILED_TYPE,
  REFUND_FAILED_V1_DATASCHEMA,
  type RefundFailedEvent,
  RefundFailedEventV1Emit,
} from "./refund-failed.v1.ts";
import {
  REFUND_SUCCEEDED_TYPE,
  REFUND_SUCCEEDED_V1_DATASCHEMA,
  type RefundSucceededEvent,
  RefundSucceededEventV1Emit,
} from "./refund-succeeded.v1.ts";

export type OutcomeEvent = RefundSucceededEvent | RefundFailedEvent;

export interface MoneyInput {
  readonly value: number;
  readonly currencyCode: string;
}

interface OutcomeInputBase {
  /** The relay's CloudEvents source, e.g. "urn:refund-relay". */
  readonly source: string;
  /** CloudEvents id and source of the return.approved event. */
  readonly sourceEvent: { readonly id: string; readonly source: string };
  readonly processedAt: Date | string;
  readonly merchantId?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

export interface RefundSucceededInput extends OutcomeInputBase {
  readonly returnId: string;
  readonly orderId: string;
  readonly paymentIntentId: string;
  /** Dojo refund id; for a reversal, the reversal id. */
  readonly refundId: string;
  readonly amount: MoneyInput;
  readonly idempotencyKey: string;
  readonly method: RefundMethod;
  readonly attempts: number;
}

/** Dojo problem details as received; normalizeProblem keeps the known fields and bounds them. */
export interface ProblemInput {
  readonly type?: unknown;
  readonly title?: unknown;
  readonly status?: unknown;
  readonly detail?: unknown;
  readonly instance?: unknown;
  readonly traceId?: unknown;
  readonly errors?: unknown;
}

export interface RefundFailedInput extends OutcomeInputBase {
  readonly returnId?: string | undefined;
  readonly orderId?: string | undefined;
  readonly paymentIntentId?: string | undefined;
  readonly amount?: MoneyInput | undefined;
  readonly idempotencyKey?: string | undefined;
  readonly method?: RefundMethod | undefined;
  readonly attempts: number;
  readonly code: FailureCode;
  /** Human explanation; control characters are replaced and it is cut to 2048 characters. */
  readonly message: string;
  readonly problem?: ProblemInput | undefined;
  /**
   * Set only when answering a second event that reused an already-processed id with other content
   * (code idempotency_conflict): folded into the outcome id so it differs from the first event's own.
   */
  readonly idVariant?: string | undefined;
}

/** Thrown by the builders when the input would break the emitted contract (a bug in the caller). */
export class OutcomeValidationError extends Error {
  readonly issues: ReadonlyArray<Issue>;
  constructor(type: string, issues: ReadonlyArray<Issue>) {
    super(summarize(`cannot build ${type}`, issues));
    this.name = "OutcomeValidationError";
    this.issues = issues;
  }
}

function isoTime(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : value;
}

function problemString(value: unknown): string | undefined {
  return typeof value === "string" ? sanitizeProblemText(value) : undefined;
}

function sanitizeProblemText(value: string): string {
  // Keep tab and line breaks (allowed in the schema), replace other control characters.
  const clean = value.toWellFormed().replace(/[^\P{Cc}\t\n\r]/gu, "?");
  return clean.length > LIMITS.problemText ? `${clean.slice(0, LIMITS.problemText - 1)}…` : clean;
}

/**
 * Dojo's problem details come from another system; a refund.failed must still be publishable when they are
 * odd, so unknown fields are dropped, strings bounded and malformed values left out instead of rejected.
 */
export function normalizeProblem(problem: ProblemInput): Problem {
  const out: { -readonly [K in keyof Problem]: Problem[K] } = {};
  for (const name of ["type", "title", "detail", "instance", "traceId"] as const) {
    const value = problemString(problem[name]);
    if (value !== undefined) out[name] = value;
  }
  if (typeof problem.status === "number" && Number.isInteger(problem.status) && problem.status >= 100) {
    if (problem.status <= 599) out.status = problem.status;
  }
  if (typeof problem.errors === "object" && problem.errors !== null && !Array.isArray(problem.errors)) {
    const errors: Record<string, string[]> = {};
    for (const [field, messages] of Object.entries(problem.errors).slice(0, LIMITS.problemErrors)) {
      const key = sanitizeText(field, 256);
      if (key === "") continue;
      const list = Array.isArray(messages) ? messages : [messages];
      errors[key] = list
        .filter((m): m is string => typeof m === "string")
        .slice(0, 20)
        .map(sanitizeProblemText);
    }
    out.errors = errors;
  }
  return out;
}

function checked<T>(schema: z.ZodType<T>, type: string, candidate: unknown): T {
  const result = schema.safeParse(candidate, PARSE_OPTIONS);
  if (!result.success) throw new OutcomeValidationError(type, fromZodIssues(result.error.issues));
  return result.data;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function metadataOf(metadata: Readonly<Record<string, string>> | undefined) {
  return metadata === undefined || Object.keys(metadata).length === 0 ? {} : { metadata: { ...metadata } };
}

export function buildRefundSucceeded(input: RefundSucceededInput): RefundSucceededEvent {
  const processedAt = isoTime(input.processedAt);
  return checked(RefundSucceededEventV1Emit, REFUND_SUCCEEDED_TYPE, {
    specversion: "1.0",
    id: outcomeEventId(input.sourceEvent.source, input.sourceEvent.id, REFUND_SUCCEEDED_TYPE),
    source: input.source,
    type: REFUND_SUCCEEDED_TYPE,
    subject: input.paymentIntentId,
    time: processedAt,
    datacontenttype: OUTCOME_CONTENT_TYPE,
    dataschema: REFUND_SUCCEEDED_V1_DATASCHEMA,
    data: {
      sourceEvent: { id: input.sourceEvent.id, source: input.sourceEvent.source },
      returnId: input.returnId,
      orderId: input.orderId,
      paymentIntentId: input.paymentIntentId,
      ...optional("merchantId", input.merchantId),
      refundId: input.refundId,
      amount: { value: input.amount.value, currencyCode: input.amount.currencyCode },
      idempotencyKey: input.idempotencyKey,
      method: input.method,
      attempts: input.attempts,
      processedAt,
      ...metadataOf(input.metadata),
    },
  });
}

export function buildRefundFailed(input: RefundFailedInput): RefundFailedEvent {
  const processedAt = isoTime(input.processedAt);
  return checked(RefundFailedEventV1Emit, REFUND_FAILED_TYPE, {
    specversion: "1.0",
    id: outcomeEventId(input.sourceEvent.source, input.sourceEvent.id, REFUND_FAILED_TYPE, input.idVariant),
    source: input.source,
    type: REFUND_FAILED_TYPE,
    ...optional("subject", input.paymentIntentId),
    time: processedAt,
    datacontenttype: OUTCOME_CONTENT_TYPE,
    dataschema: REFUND_FAILED_V1_DATASCHEMA,
    data: {
      sourceEvent: { id: input.sourceEvent.id, source: input.sourceEvent.source },
      ...optional("returnId", input.returnId),
      ...optional("orderId", input.orderId),
      ...optional("paymentIntentId", input.paymentIntentId),
      ...optional("merchantId", input.merchantId),
      ...optional(
        "amount",
        input.amount && { value: input.amount.value, currencyCode: input.amount.currencyCode },
      ),
      ...optional("idempotencyKey", input.idempotencyKey),
      ...optional("method", input.method),
      attempts: input.attempts,
      processedAt,
      code: input.code,
      message: sanitizeText(input.message, LIMITS.message),
      ...optional("problem", input.problem && normalizeProblem(input.problem)),
      ...metadataOf(input.metadata),
    },
  });
}

export type OutcomeMode = "structured" | "binary";

export interface EncodedOutcome {
  /** Kafka key / SQS message group id: the payment intent id, so one payment's outcomes stay in order. */
  readonly key: string | null;
  readonly value: string;
  readonly headers: Record<string, string>;
}

/** Serialises an outcome for Kafka or SQS in structured (default) or binary content mode. */
export function encodeOutcome(event: OutcomeEvent, mode: OutcomeMode = "structured"): EncodedOutcome {
  const key = event.subject ?? null;
  if (mode === "structured") {
    const headers: Record<string, string> = { "content-type": "application/cloudevents+json" };
    // The W3C header too, so messaging instrumentation downstream continues the trace without
    // reading the body.
    if (event.traceparent !== undefined) headers.traceparent = event.traceparent;
    if (event.tracestate !== undefined) headers.tracestate = event.tracestate;
    return { key, value: JSON.stringify(event), headers };
  }
  const headers: Record<string, string> = {
    ce_specversion: event.specversion,
    ce_id: event.id,
    ce_source: event.source,
    ce_type: event.type,
    ce_time: event.time,
    ce_dataschema: event.dataschema,
    "content-type": event.datacontenttype,
  };
  if (event.subject !== undefined) headers.ce_subject = event.subject;
  // At most ten attributes in all, which is what an SQS message takes.
  if (event.traceparent !== undefined) headers.ce_traceparent = event.traceparent;
  if (event.tracestate !== undefined) headers.ce_tracestate = event.tracestate;
  return { key, value: JSON.stringify(event.data), headers };
}
