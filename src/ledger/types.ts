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
  /**
   * The event as received (JSON-serialisable). The relay stores it only when it parks an event (see
   * markParked), to keep the hot path light; callers may store it up front.
   */
  readonly event?: unknown;
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
  /** Set while the event waits on the dead-letter destination for a person or a replay. */
  readonly parked: { readonly code: ParkCode; readonly reason: string; readonly at: Date } | null;
}

export type BeginResult =
  | { readonly kind: "new"; readonly entry: LedgerEntry }
  | { readonly kind: "existing"; readonly entry: LedgerEntry }
  /** Same event id with other content, or the idempotency key already belongs to another event. */
  | { readonly kind: "conflict"; readonly entry: LedgerEntry; readonly reason: "content" | "key" };

/**
 * The row as the writer last saw it. A transition that names what it expects applies only while the
 * row still stands there; otherwise it is refused and the writer gets the row as it is now. This is
 * what keeps a stale writer (another instance sharing the ledger, a delivery that decided on an old
 * read) from overwriting a newer answer.
 */
export interface Expected {
  readonly state: LedgerState;
  readonly attempts: number;
  /**
   * The writer's lease on the event's payment intent, when it works under one: the write applies only
   * while that lease is still the writer's (same owner and token), so an instance whose lease expired
   * and was taken over cannot write late.
   */
  readonly lease?: IntentLease;
}

/**
 * The right to work on the events of one payment intent, held by one relay instance at a time (several
 * instances may share a ledger). Taken before the first Dojo call of a burst of the intent's events,
 * renewed while they run, released after; another instance may take it over only once it expired.
 * The token grows with every change of holder, and fences a holder whose lease was taken over.
 */
export interface IntentLease {
  readonly paymentIntentId: string;
  readonly owner: string;
  readonly token: number;
  readonly expiresAt: Date;
}

export type LeaseClaim =
  | { readonly ok: true; readonly lease: IntentLease }
  /** Held by another live owner until `expiresAt`. */
  | { readonly ok: false; readonly holder: string; readonly expiresAt: Date };

/** A transition either applied, or was refused because the row moved on (`entry` is the row now). */
export type Transition =
  | { readonly ok: true; readonly entry: LedgerEntry }
  | {
      readonly ok: false;
      readonly entry: LedgerEntry;
      readonly reason: string;
      /** Refused because the writer's lease is no longer its own. */
      readonly leaseLost?: boolean;
    };

export interface SettleInput {
  readonly state: "succeeded" | "failed";
  readonly outcome: unknown;
  readonly refundId?: string | null;
  /**
   * Required for "failed": the refusal is stored only while the row is exactly as the decision saw it.
   * A success needs no expectation: Dojo confirming a refund is true whatever the row says.
   */
  readonly expected?: Expected;
  /** HTTP requests the last Dojo call made (the client's own resends included); default 1. */
  readonly requests?: number;
}

export type SettleResult =
  /** The outcome was stored. */
  | { readonly kind: "settled"; readonly entry: LedgerEntry }
  /** Already settled (by this or another writer): the stored outcome stands and is returned. */
  | { readonly kind: "kept"; readonly entry: LedgerEntry }
  /**
   * A Dojo success replaced a stored failure: the earlier answer was wrong and needs a person's
   * attention; `previous` is the failure outcome that had been stored (and maybe published).
   */
  | { readonly kind: "corrected"; readonly entry: LedgerEntry; readonly previous: unknown }
  /** A failure was refused because the row moved on since the decision (`entry` is the row now). */
  | { readonly kind: "stale"; readonly entry: LedgerEntry }
  /** A failure was refused because the writer's lease was taken over (`entry` is the row now). */
  | { readonly kind: "lease_lost"; readonly entry: LedgerEntry };

/** Why an event was parked for a person; cleared when the event settles. */
export type ParkCode =
  | "retry_budget_exhausted"
  | "needs_reconciliation"
  | "internal_error"
  | "unknown_merchant";

/** Who settled an event by hand, and why; kept in the ledger's audit table. */
export interface ManualSettlement {
  readonly state: "succeeded" | "failed";
  readonly outcome: unknown;
  readonly refundId: string | null;
  readonly actor: string;
  readonly reason: string;
}

export interface AuditRecord extends EventRef {
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly reason: string;
  readonly previousState: LedgerState;
  readonly newState: LedgerState;
}

export interface Ledger {
  /** Records the event unless it is known; tells which case applies. */
  begin(entry: NewLedgerEntry, now: Date): Promise<BeginResult>;
  /**
   * Called right before each Dojo call: state submitting, attempts + 1, only from an open state and
   * only while the row is as `expected`. The method is recorded on the first submission; a later one
   * with another method is refused, so a resumed event is never switched from a reversal to a refund.
   */
  markSubmitting(ref: EventRef, method: RefundMethod, expected: Expected, now: Date): Promise<Transition>;
  /**
   * The Dojo call ended without a definitive answer; `requests` (default 1) is how many HTTP requests
   * it made, so attempts counts every request Dojo may have seen.
   */
  markUnknown(
    ref: EventRef,
    error: string,
    expected: Expected,
    now: Date,
    requests?: number,
  ): Promise<Transition>;
  /**
   * Stores the decided outcome. A failure needs the row as `expected` and an open state; a success
   * applies from any open state and replaces a stored failure ("corrected"); an existing success is
   * kept.
   */
  settle(ref: EventRef, input: SettleInput, now: Date): Promise<SettleResult>;
  markPublished(ref: EventRef, now: Date): Promise<LedgerEntry>;
  /**
   * Records that the event was parked on the dead-letter destination (open rows only), with the event
   * as received (JSON-serialisable) so a person settling it by hand can publish a complete outcome.
   */
  markParked(ref: EventRef, code: ParkCode, reason: string, now: Date, event?: unknown): Promise<void>;
  get(ref: EventRef): Promise<LedgerEntry | undefined>;
  /** Open events that were parked and still await a person, oldest first. */
  listParked(limit: number): Promise<LedgerEntry[]>;
  /** Settles an open event by hand and writes an audit record in the same transaction. */
  settleByHand(ref: EventRef, input: ManualSettlement, now: Date): Promise<Transition>;
  /** Audit records of one event, oldest first. */
  audit(ref: EventRef): Promise<AuditRecord[]>;
  /**
   * Takes the lease on a payment intent for `owner`: when nobody holds it, it expired, or `owner`
   * already holds it (then it is extended and keeps its token). Atomic across instances.
   */
  claimIntent(paymentIntentId: string, owner: string, ttlMs: number, now: Date): Promise<LeaseClaim>;
  /** Extends leases still held; returns those renewed (a lease taken over is missing from the answer). */
  renewIntents(leases: readonly IntentLease[], ttlMs: number, now: Date): Promise<IntentLease[]>;
  /**
   * Gives a lease up (only if it is still this holder's, same token). The lease is kept as expired, so
   * whoever takes it next gets a higher token.
   */
  releaseIntent(lease: IntentLease): Promise<void>;
  close(): Promise<void>;
}

/**
 * Read-only lookups for operators (`refund-relay inspect`, `refund-relay replay`), beside the relay's
 * own operations. None takes a write lock: on SQLite they read outside the group commit's
 * transactions, so a command scanning the table of a live ledger never holds the relay's writes back
 * (within one process a lookup still takes its turn on the ledger's connection). They see what was
 * committed when they run. Answers are oldest first (first seen), at most `limit` entries.
 */
export interface LedgerLookup {
  /** Entries with this event id, from any source (an id is unique per source only). */
  findByEventId(eventId: string, limit: number): Promise<LedgerEntry[]>;
  /**
   * Entries whose stored event or stored outcome names this return id (`data.returnId`). The event is
   * stored only for parked events and the outcome only once settled, so an event still in flight and
   * never parked is not found by its return id.
   */
  findByReturnId(returnId: string, limit: number): Promise<LedgerEntry[]>;
  /** Entries of one payment intent. */
  findByPaymentIntent(paymentIntentId: string, limit: number): Promise<LedgerEntry[]>;
  /**
   * The lease on a payment intent as stored, live or not (`expiresAt` in the past: expired or
   * released); undefined when the intent was never leased (or its lease was swept).
   */
  intentLease(paymentIntentId: string): Promise<IntentLease | undefined>;
}

/** A refused operation or a bug in the caller (unknown event, wrong method): never an outage. */
export class LedgerError extends Error {
  override readonly name = "LedgerError";
}
