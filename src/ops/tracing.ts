// Trace propagation (W3C Trace Context) through @opentelemetry/api. With an OpenTelemetry SDK
// registered in the process, spans are real and the SDK exports them. Without one the API is a no-op
// whose tracer hands back the parent's own span context: a Dojo request would then carry the caller's
// span id as if it were ours, and a message without a trace would get none. So when no SDK answers,
// the trace is continued by hand: the same trace id, a fresh span id per span, the flags and tracestate
// passed on. Either way a trace that arrives with a message reaches the Dojo requests and the outcome.
//
// This module is the only tracing the pipeline and the Dojo client see; it imports no metrics library.
import { randomBytes } from "node:crypto";
import {
  type Attributes,
  type Context,
  createTraceState,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { TRACEPARENT_PATTERN } from "../../schemas/index.ts";

/** Resolves the registered SDK's tracer on each span (a no-op tracer until one is registered). */
const tracer = trace.getTracer("refund-relay");

/** W3C limits: a tracestate longer than this may be dropped by any participant. */
const MAX_TRACESTATE = 512;

/**
 * Parses a W3C `traceparent`. Versions above 00 are read by their first four fields, as the
 * specification asks; version ff, all-zero ids and malformed values give undefined.
 */
export function parseTraceparent(value: string | undefined, tracestate?: string): SpanContext | undefined {
  if (value === undefined) return undefined;
  const text = value.trim().toLowerCase();
  if (!TRACEPARENT_PATTERN.test(text)) return undefined;
  const version = text.slice(0, 2);
  if (version === "ff" || (version === "00" && text.length !== 55)) return undefined;
  const sc: SpanContext = {
    traceId: text.slice(3, 35),
    spanId: text.slice(36, 52),
    traceFlags: Number.parseInt(text.slice(53, 55), 16),
    isRemote: true,
  };
  if (!isSpanContextValid(sc)) return undefined;
  if (tracestate !== undefined && tracestate.length > 0 && tracestate.length <= MAX_TRACESTATE) {
    return { ...sc, traceState: createTraceState(tracestate) };
  }
  return sc;
}

/** A span context as a version 00 `traceparent`. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

function newSpanId(): string {
  for (;;) {
    const id = randomBytes(8).toString("hex");
    if (id !== "0000000000000000") return id;
  }
}

/**
 * Starts a span under `parent`. When no SDK made a span of its own (the no-op tracer returns the
 * parent's context, or an invalid one without a parent), a child is made by hand; without a parent
 * either, there is no trace to continue and the result is undefined.
 */
function startSpan(
  name: string,
  kind: SpanKind,
  attributes: () => Attributes,
  parentContext: Context,
): { span: Span; context: Context } | undefined {
  const parent = trace.getSpanContext(parentContext);
  let span = tracer.startSpan(name, { kind }, parentContext);
  // Built only for a span that records: most messages of a relay without an SDK have no trace at all.
  if (span.isRecording()) span.setAttributes(attributes());
  const own = span.spanContext();
  if (!isSpanContextValid(own) || (parent !== undefined && own.spanId === parent.spanId)) {
    if (parent === undefined || !isSpanContextValid(parent)) return undefined;
    span = trace.wrapSpanContext({
      traceId: parent.traceId,
      spanId: newSpanId(),
      traceFlags: parent.traceFlags,
      ...(parent.traceState === undefined ? {} : { traceState: parent.traceState }),
    });
  }
  return { span, context: trace.setSpan(parentContext, span) };
}

/** The trace context of a span, as message headers or CloudEvents attributes. */
function traceHeaders(span: Span): { traceparent: string; tracestate: string | undefined } {
  const sc = span.spanContext();
  const state = sc.traceState?.serialize();
  return {
    traceparent: formatTraceparent(sc),
    tracestate: state === undefined || state === "" ? undefined : state,
  };
}

/** What a processed message's trace gives the pipeline (see DeliveryTrace). */
export class MessageSpan {
  /** Parent of the Dojo requests made for the message. */
  readonly context: Context;
  /** The processing span's trace context: the outcome carries it. */
  readonly traceparent: string;
  readonly tracestate: string | undefined;
  readonly #span: Span;

  constructor(span: Span, context: Context) {
    this.#span = span;
    this.context = context;
    const headers = traceHeaders(span);
    this.traceparent = headers.traceparent;
    this.tracestate = headers.tracestate;
  }

  /** Ends the span with what became of the message; `error` marks it failed. */
  end(attributes: Attributes, error?: string): void {
    this.#span.setAttributes(attributes);
    if (error !== undefined) this.#span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    this.#span.end();
  }
}

/** Message headers as a text-map carrier: names are read in lowercase, as transports hand them. */
const headerGetter = {
  keys: (carrier: Readonly<Record<string, string | undefined>>) => Object.keys(carrier),
  get: (carrier: Readonly<Record<string, string | undefined>>, key: string) => carrier[key],
};

/**
 * The context a message arrived with: what a registered SDK's propagators find in its headers, else
 * the W3C `traceparent` header (or message attribute), else the CloudEvents binary-mode
 * `ce_traceparent`; the root context when it has none.
 */
export function incomingContext(headers: Readonly<Record<string, string | undefined>> | undefined): Context {
  if (headers === undefined) return ROOT_CONTEXT;
  const extracted = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
  const found = trace.getSpanContext(extracted);
  if (found !== undefined && isSpanContextValid(found)) return extracted;
  const sc =
    parseTraceparent(headers.traceparent, headers.tracestate) ??
    parseTraceparent(headers.ce_traceparent, headers.ce_tracestate);
  return sc === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, sc);
}

/**
 * Starts the consumer span that processes one message (OpenTelemetry messaging conventions: kind
 * CONSUMER, named `process <destination>`), as a child of the trace the message arrived with.
 * Undefined when there is nothing to trace: no incoming trace and no SDK.
 */
export function startMessageSpan(
  headers: Readonly<Record<string, string | undefined>> | undefined,
  destination: string,
  attributes: () => Attributes,
): MessageSpan | undefined {
  const started = startSpan(
    `process ${destination}`,
    SpanKind.CONSUMER,
    attributes,
    incomingContext(headers),
  );
  return started === undefined ? undefined : new MessageSpan(started.span, started.context);
}

/** One HTTP request's span, and the headers that carry it. */
export class ClientSpan {
  readonly #span: Span;
  readonly #context: Context;

  constructor(span: Span, context: Context) {
    this.#span = span;
    this.#context = context;
  }

  /** Adds the trace headers (W3C, and whatever a registered SDK's propagators add) to `headers`. */
  inject(headers: Record<string, string>): void {
    propagation.inject(this.#context, headers);
    const { traceparent, tracestate } = traceHeaders(this.#span);
    headers.traceparent = traceparent;
    if (tracestate !== undefined) headers.tracestate = tracestate;
  }

  /** Ends the span: `status` is the HTTP status (undefined when no response came), `error` why it failed. */
  end(status: number | undefined, error: string | undefined): void {
    if (status !== undefined) this.#span.setAttribute("http.response.status_code", status);
    if (error !== undefined) {
      this.#span.setAttribute("error.type", error);
      this.#span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.#span.end();
  }
}

/**
 * Starts a CLIENT span for one HTTP request under `parent` (a message's processing span). Undefined
 * when there is nothing to trace.
 */
export function startClientSpan(
  parent: Context | undefined,
  name: string,
  attributes: () => Attributes,
): ClientSpan | undefined {
  const started = startSpan(name, SpanKind.CLIENT, attributes, parent ?? ROOT_CONTEXT);
  return started === undefined ? undefined : new ClientSpan(started.span, started.context);
}
