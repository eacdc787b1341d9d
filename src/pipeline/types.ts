// What the pipeline needs from the outside (ports) and what it returns per message.
import type { Context } from "@opentelemetry/api";
import type { InboundMessage, OutcomeEvent } from "../../schemas/index.ts";

export type { InboundMessage, OutcomeEvent } from "../../schemas/index.ts";

/** Why a message was parked instead of answered. Carried by the dead letter. */
export interface DeadLetterReason {
  readonly code:
    | "unparseable"
    | "invalid_envelope"
    | "retry_budget_exhausted"
    | "needs_reconciliation"
    | "idempotency_conflict"
    | "internal_error"
    | "unknown_merchant";
  readonly message: string;
  /** Dojo calls made for the event so far (0 when it never reached Dojo). */
  readonly attempts: number;
  readonly firstSeenAt: Date;
  readonly eventId?: string;
  readonly source?: string;
}

/** Where outcomes and dead letters go; implemented by each transport (Kafka, SQS). */
export interface OutcomeSink {
  publish(outcome: OutcomeEvent): Promise<void>;
  deadLetter(message: InboundMessage, reason: DeadLetterReason): Promise<void>;
}

/** Signals from the transport for one delivery. */
export interface DeliveryContext {
  /** Fires when the consumer stops: no new attempt or wait begins; unsettled work is abandoned. */
  readonly stop?: AbortSignal;
  /** Fires at the drain deadline: Dojo calls in flight are cancelled. */
  readonly abort?: AbortSignal;
  /** True once the transport no longer owns the message (partition revoked): nothing is published. */
  readonly fenced?: () => boolean;
  /** The trace the message is processed in, when it has one (see src/ops/tracing.ts). */
  readonly trace?: DeliveryTrace;
}

/** A message's processing span, as the pipeline passes it on. */
export interface DeliveryTrace {
  /** Parent of the Dojo requests made for the message: each is a child span of it. */
  readonly context: Context;
  /** W3C trace context of the processing span: published outcomes carry it. */
  readonly traceparent: string;
  readonly tracestate: string | undefined;
}

/** Why work on a message is tried again; reported to the pipeline's observer. */
export type RetryReason =
  /** Dojo gave no definitive answer: the refund is tried again with the same key. */
  | "dojo"
  /** Processing failed unexpectedly (a bug, or a lease lost); tried again within the budget. */
  | "internal_error"
  /** An outcome or dead letter could not be published. */
  | "publish"
  /** A fault of the relay's own world was waited out: its kind. */
  | "ledger"
  | "dojo_credentials";

/**
 * What the pipeline tells whoever watches it (metrics). Calls are synchronous and cheap; an observer
 * must not throw. Outcomes are not reported here: the caller of process() has every result.
 */
export interface PipelineObserver {
  retried(reason: RetryReason): void;
}

export type MessageResult =
  | {
      /** The outcome is published; the transport may ack/commit the message. */
      readonly status: "published";
      readonly outcome: OutcomeEvent;
      /** True when the outcome came from the ledger (redelivery), without a Dojo call. */
      readonly replayed: boolean;
    }
  | {
      /** Parked on the dead-letter destination; the transport may ack/commit the message. */
      readonly status: "dead-lettered";
      readonly reason: DeadLetterReason;
    }
  | {
      /** Not settled (shutdown or fencing): the transport must NOT ack; the message will be redelivered. */
      readonly status: "abandoned";
      readonly reason: string;
    };
