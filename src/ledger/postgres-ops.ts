// The operations as they travel to refund_relay_apply: JSON with the column names of the tables, and
// the keys of the rows each one touches (the batch queue keeps operations on one row in order).
// Values are checked here, before they join a batch: a value PostgreSQL cannot store (a NUL
// character, an unpaired UTF-16 surrogate, a fractional amount) would otherwise fail the whole batch,
// and with it every other event's write, again on every retry.
import type {
  EventRef,
  Expected,
  IntentLease,
  ManualSettlement,
  NewLedgerEntry,
  ParkCode,
  RefundMethod,
  SettleInput,
} from "./types.ts";
import { LedgerError } from "./types.ts";

export type PgOp = { readonly op: string; readonly [field: string]: unknown };

export interface Encoded {
  readonly op: PgOp;
  readonly keys: readonly string[];
}

/** The SQLite ledger's limit on stored error and park reason texts, so both keep the same. */
const MAX_ERROR_TEXT = 2000;

/** An identifier stored as is: refused (not altered) when PostgreSQL could not store it. */
function ident(value: string, what: string): string {
  if (typeof value !== "string" || value.includes("\u0000") || !value.isWellFormed()) {
    throw new LedgerError(
      `the ${what} cannot be stored in the ledger (not a string, NUL or an unpaired surrogate)`,
    );
  }
  return value;
}

function oneOf<T extends string>(value: T, allowed: readonly T[], what: string): T {
  if (!allowed.includes(value)) throw new LedgerError(`the ${what} must be one of ${allowed.join(", ")}`);
  return value;
}

/** Free text (error messages, reasons): what PostgreSQL cannot store is replaced, not refused. */
function freeText(value: string, max = Number.POSITIVE_INFINITY): string {
  const text = String(value);
  return (text.length > max ? text.slice(0, max) : text).toWellFormed().replaceAll("\u0000", "\uFFFD");
}

function int(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) throw new LedgerError(`the ${what} must be an integer, got ${value}`);
  return value;
}

function epochMs(date: Date): number {
  return int(date.getTime(), "time");
}

const eventKey = (ref: EventRef) => `e\n${ref.source}\n${ref.eventId}`;
const leaseKey = (paymentIntentId: string) => `l\n${paymentIntentId}`;

function onEvent(ref: EventRef, op: string, fields: Record<string, unknown>): Encoded {
  return {
    op: {
      op,
      source: ident(ref.source, "event source"),
      event_id: ident(ref.eventId, "event id"),
      ...fields,
    },
    keys: [eventKey(ref)],
  };
}

function expectedFields(expected: Expected): Record<string, unknown> {
  const { lease } = expected;
  return {
    expected_state: expected.state,
    expected_attempts: int(expected.attempts, "expected attempts"),
    ...(lease === undefined
      ? {}
      : {
          lease_intent: ident(lease.paymentIntentId, "lease's payment intent"),
          lease_owner: ident(lease.owner, "lease owner"),
          lease_token: int(lease.token, "lease token"),
        }),
  };
}

const optionalIdent = (value: string | null | undefined, what: string) =>
  value === undefined || value === null ? null : ident(value, what);
const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

export function begin(entry: NewLedgerEntry, now: Date): Encoded {
  return onEvent(entry, "begin", {
    idempotency_key: ident(entry.idempotencyKey, "idempotency key"),
    request_hash: ident(entry.requestHash, "request hash"),
    payment_intent_id: ident(entry.paymentIntentId, "payment intent id"),
    merchant_id: optionalIdent(entry.merchantId, "merchant id"),
    amount: int(entry.amount, "amount"),
    currency_code: ident(entry.currencyCode, "currency code"),
    event: json(entry.event),
    at: epochMs(now),
  });
}

export function markSubmitting(ref: EventRef, method: RefundMethod, expected: Expected, now: Date): Encoded {
  return onEvent(ref, "markSubmitting", {
    method: oneOf(method, ["refund", "reversal"], "method"),
    ...expectedFields(expected),
    at: epochMs(now),
  });
}

export function markUnknown(
  ref: EventRef,
  error: string,
  expected: Expected,
  now: Date,
  requests: number,
): Encoded {
  return onEvent(ref, "markUnknown", {
    error: freeText(error, MAX_ERROR_TEXT),
    requests: int(requests, "request count"),
    ...expectedFields(expected),
    at: epochMs(now),
  });
}

export function settle(ref: EventRef, input: SettleInput, now: Date): Encoded {
  return onEvent(ref, "settle", {
    state: oneOf(input.state, ["succeeded", "failed"], "outcome state"),
    outcome: JSON.stringify(input.outcome),
    refund_id: optionalIdent(input.refundId, "refund id"),
    requests: int(input.requests ?? 1, "request count"),
    ...(input.expected === undefined ? {} : expectedFields(input.expected)),
    at: epochMs(now),
  });
}

export function markPublished(ref: EventRef, now: Date): Encoded {
  return onEvent(ref, "markPublished", { at: epochMs(now) });
}

export function markParked(
  ref: EventRef,
  code: ParkCode,
  reason: string,
  now: Date,
  event: unknown,
): Encoded {
  return onEvent(ref, "markParked", {
    code: ident(code, "park code"),
    reason: freeText(reason, MAX_ERROR_TEXT),
    event: json(event),
    at: epochMs(now),
  });
}

export function get(ref: EventRef): Encoded {
  return onEvent(ref, "get", {});
}

export function listParked(limit: number): Encoded {
  return { op: { op: "listParked", limit: int(limit, "limit") }, keys: [] };
}

export function settleByHand(ref: EventRef, input: ManualSettlement, now: Date): Encoded {
  return onEvent(ref, "settleByHand", {
    state: oneOf(input.state, ["succeeded", "failed"], "outcome state"),
    outcome: JSON.stringify(input.outcome),
    refund_id: optionalIdent(input.refundId, "refund id"),
    actor: freeText(input.actor),
    reason: freeText(input.reason),
    at: epochMs(now),
  });
}

export function audit(ref: EventRef): Encoded {
  return onEvent(ref, "audit", {});
}

export function claimIntent(paymentIntentId: string, owner: string, ttlMs: number, now: Date): Encoded {
  return {
    op: {
      op: "claimIntent",
      payment_intent_id: ident(paymentIntentId, "payment intent id"),
      owner: ident(owner, "lease owner"),
      expires_at: epochMs(now) + int(ttlMs, "lease duration"),
      at: epochMs(now),
    },
    keys: [leaseKey(paymentIntentId)],
  };
}

export function renewIntents(leases: readonly IntentLease[], ttlMs: number, now: Date): Encoded {
  return {
    op: {
      op: "renewIntents",
      leases: leases.map((l) => ({
        payment_intent_id: ident(l.paymentIntentId, "payment intent id"),
        owner: ident(l.owner, "lease owner"),
        token: int(l.token, "lease token"),
      })),
      expires_at: epochMs(now) + int(ttlMs, "lease duration"),
    },
    keys: leases.map((l) => leaseKey(l.paymentIntentId)),
  };
}

export function releaseIntent(lease: IntentLease): Encoded {
  return {
    op: {
      op: "releaseIntent",
      payment_intent_id: ident(lease.paymentIntentId, "payment intent id"),
      owner: ident(lease.owner, "lease owner"),
      token: int(lease.token, "lease token"),
    },
    keys: [leaseKey(lease.paymentIntentId)],
  };
}
