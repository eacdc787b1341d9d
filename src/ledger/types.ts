// The refund ledger: one row per inbound event (CloudEvents source + id), written before Dojo is
// called, so a redelivered event is recognised and a crash in the middle of a refund is resumed with
// the same idempotency key instead of being paid twice.
//
// States (a row only moves forward, except unknown -> submitting for a retry):
//   received   -> the event is planned; Dojo has never been called for it
//   submitting -> a Dojo call has been (or is being) made; the refund may exist
//   unknown    -> the last Dojo call ended without a definitive answer; retry with the same key
//   succeeded  -> Dojo answered with a refund (or reversal) id; outcome stored
//   failed     -> a definitive refusal; outcome stored
//   published  -> the stored outcome was published; nothing left to do but re-publish on redelivery
// The published mark is written after publishing without waiting for it, so a succeeded or failed row
// may belong to an outcome that did go out (a crash in between); re-publishing it is always safe.

export const LEDGER_STATES = [
  "received",
  "submitting",
  "unknown",
  "succeeded",
  "failed",
  "published",
] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

/** States in which the outcome is decided and stored. */
export const SETTLED_STATES: ReadonlySet<LedgerState> = new Set(["succeeded", "failed", "published"]);

export type RefundMethod = "refund" | "reversal";

export interface EventRef {
  readonly source: string;
  readonly eventId: string;
}

export interface NewLedgerEntry extends EventRef {
  readonly idempotencyKey: string;
  /** Hash of the event content that defines the refund; a redelivery with another hash is a conflict. */
  readonly requestHash: string;
  readonly paymentIntentId: string;
  readonly merchantId: string | null;
  readonly amount: number;
  readonly currencyCode: string;
}

export interface LedgerEntry extends NewLedgerEntry {
  readonly state: LedgerState;
  /** Dojo refund (or reversal) calls made so far, across process restarts. */
  readonly attempts: number;
  readonly firstSeenAt: Date;
  readonly updatedAt: Date;
  readonly refundId: string | null;
  /** How Dojo was (or is being) asked: set by the first submission, kept for resumption. */
  readonly method: RefundMethod | null;
  /** The outcome event as published (JSON), kept for re-publication. */
  readonly outcome: unknown;
  readonly lastError: string | null;
}

export type BeginResult =
  | { readonly kind: "new"; readonly entry: LedgerEntry }
  | { readonly kind: "existing"; readonly entry: LedgerEntry }
  /** Same event id with other content, or the idempotency key already belongs to another event. */
  | { readonly kind: "conflict"; readonly entry: LedgerEntry; readonly reason: "content" | "key" };

export interface SettleInput {
  readonly state: "succeeded" | "failed";
  readonly outcome: unknown;
  readonly refundId?: string | null;
}

export interface Ledger {
  /** Records the event unless it is known; tells which case applies. */
  begin(entry: NewLedgerEntry, now: Date): Promise<BeginResult>;
  /**
   * Called right before each Dojo call: state submitting, attempts + 1. The method is recorded on the
   * first submission; a later one with another method is refused, so a resumed event is never
   * switched from a reversal to a refund.
   */
  markSubmitting(ref: EventRef, method: RefundMethod, now: Date): Promise<LedgerEntry>;
  /** The Dojo call ended without a definitive answer. */
  markUnknown(ref: EventRef, error: string, now: Date): Promise<LedgerEntry>;
  /** Stores the decided outcome. Refuses to overwrite a different settled outcome. */
  settle(ref: EventRef, input: SettleInput, now: Date): Promise<LedgerEntry>;
  markPublished(ref: EventRef, now: Date): Promise<LedgerEntry>;
  get(ref: EventRef): Promise<LedgerEntry | undefined>;
  close(): Promise<void>;
}

export class LedgerError extends Error {
  override readonly name = "LedgerError";
}
