// A tracer provider that records every span with its parent, standing in for an OpenTelemetry SDK.
// Register it once per test file (the relay's tracer keeps the provider it first finds).
import { randomBytes } from "node:crypto";
import {
  type Attributes,
  type AttributeValue,
  type Context,
  context,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";

export class RecordedSpan implements Span {
  name: string;
  readonly kind: SpanKind | undefined;
  readonly parentSpanId: string | undefined;
  readonly attributes: Record<string, AttributeValue> = {};
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  ended = false;
  readonly #context: SpanContext;

  constructor(name: string, options: SpanOptions, parent: SpanContext | undefined) {
    this.name = name;
    this.kind = options.kind;
    this.parentSpanId = parent?.spanId;
    this.#context = {
      traceId: parent?.traceId ?? randomBytes(16).toString("hex"),
      spanId: randomBytes(8).toString("hex"),
      traceFlags: 1,
      ...(parent?.traceState === undefined ? {} : { traceState: parent.traceState }),
    };
    this.setAttributes(options.attributes ?? {});
  }

  spanContext(): SpanContext {
    return this.#context;
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    for (const [key, value] of Object.entries(attributes))
      if (value !== undefined) this.attributes[key] = value;
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(name: string): this {
    this.name = name;
    return this;
  }
  end(): void {
    this.ended = true;
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(): void {}
}

export class RecordingTracerProvider implements TracerProvider {
  readonly spans: RecordedSpan[] = [];

  getTracer(): Tracer {
    const spans = this.spans;
    const startSpan = (name: string, options: SpanOptions = {}, ctx: Context = context.active()) => {
      const span = new RecordedSpan(
        name,
        options,
        options.root === true ? undefined : trace.getSpanContext(ctx),
      );
      spans.push(span);
      return span;
    };
    return {
      startSpan,
      startActiveSpan: (() => {
        throw new Error("not used by the relay");
      }) as Tracer["startActiveSpan"],
    };
  }

  byId(spanId: string | undefined): RecordedSpan | undefined {
    return this.spans.find((s) => s.spanContext().spanId === spanId);
  }
}

/** Registers a recording provider as the process's tracer provider. */
export function registerRecordingProvider(): RecordingTracerProvider {
  const provider = new RecordingTracerProvider();
  if (!trace.setGlobalTracerProvider(provider)) throw new Error("a tracer provider was registered already");
  return provider;
}
