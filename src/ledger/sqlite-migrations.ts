// Forward-only schema migrations of the SQLite ledger; entry n is schema version n + 1. Never edit an
// entry that has shipped: append a new one.
export const SQLITE_MIGRATIONS: readonly string[] = [
  // A rowid table: rows are appended in arrival order, so the state updates of events in flight touch
  // the same few recent pages; only the two unique indexes take random (hashed or UUID) keys, and only
  // on insert.
  `CREATE TABLE refund_events (
     seq               INTEGER PRIMARY KEY,
     source            TEXT    NOT NULL,
     event_id          TEXT    NOT NULL,
     idempotency_key   TEXT    NOT NULL UNIQUE,
     request_hash      TEXT    NOT NULL,
     payment_intent_id TEXT    NOT NULL,
     merchant_id       TEXT,
     amount            INTEGER NOT NULL,
     currency_code     TEXT    NOT NULL,
     state             TEXT    NOT NULL
       CHECK (state IN ('received', 'submitting', 'unknown', 'succeeded', 'failed', 'published')),
     attempts          INTEGER NOT NULL DEFAULT 0,
     first_seen_at     INTEGER NOT NULL,
     updated_at        INTEGER NOT NULL,
     refund_id         TEXT,
     method            TEXT CHECK (method IN ('refund', 'reversal')),
     outcome           TEXT,
     last_error        TEXT,
     UNIQUE (source, event_id)
   );`,
  // Parked events (waiting on the dead-letter destination for a person), the event as received (so an
  // outcome can be built for it by hand), the audit trail of events settled by hand, and the leases that
  // let one instance at a time work on a payment intent's events.
  `ALTER TABLE refund_events ADD COLUMN parked_code TEXT;
   ALTER TABLE refund_events ADD COLUMN parked_reason TEXT;
   ALTER TABLE refund_events ADD COLUMN parked_at INTEGER;
   ALTER TABLE refund_events ADD COLUMN event TEXT;
   CREATE INDEX refund_events_parked ON refund_events (parked_at) WHERE parked_code IS NOT NULL;
   CREATE TABLE ledger_audit (
     seq            INTEGER PRIMARY KEY,
     source         TEXT    NOT NULL,
     event_id       TEXT    NOT NULL,
     at             INTEGER NOT NULL,
     actor          TEXT    NOT NULL,
     action         TEXT    NOT NULL,
     reason         TEXT    NOT NULL,
     previous_state TEXT    NOT NULL,
     new_state      TEXT    NOT NULL
   );
   CREATE INDEX ledger_audit_event ON ledger_audit (source, event_id);
   CREATE TABLE intent_leases (
     payment_intent_id TEXT    PRIMARY KEY,
     owner             TEXT    NOT NULL,
     token             INTEGER NOT NULL,
     expires_at        INTEGER NOT NULL
   );`,
];
