-- The ledger's tables, column for column those of the SQLite ledger so both backends hand out the same
-- entries: times are epoch milliseconds (bigint), the outcome and the event are kept as the JSON text
-- they were stored as, so a re-published outcome is byte for byte the one published first.
--
-- Migrations are forward-only and numbered; never edit one that has shipped: add the next number.

-- fillfactor: a row is updated three or four times within seconds of its insert (submitting,
-- settled, published), and the settled versions carry the outcome (about 1 kB). Half of each page is
-- left free for those versions, so most updates stay on their page (HOT updates) and touch no index;
-- with the default of 100 almost none do, and the ledger does about a sixth less work per event at 50
-- than at 80. The keys are ASCII identifiers compared byte by byte (COLLATE "C"): every
-- operation looks a row up by them, and a linguistic collation would only make that slower.
CREATE TABLE refund_events (
  source            text    COLLATE "C" NOT NULL,
  event_id          text    COLLATE "C" NOT NULL,
  idempotency_key   text    COLLATE "C" NOT NULL UNIQUE,
  request_hash      text    NOT NULL,
  payment_intent_id text    NOT NULL,
  merchant_id       text,
  amount            bigint  NOT NULL,
  currency_code     text    NOT NULL,
  state             text    NOT NULL
    CHECK (state IN ('received', 'submitting', 'unknown', 'succeeded', 'failed', 'published')),
  attempts          integer NOT NULL DEFAULT 0,
  first_seen_at     bigint  NOT NULL,
  updated_at        bigint  NOT NULL,
  refund_id         text,
  method            text    CHECK (method IN ('refund', 'reversal')),
  outcome           text,
  last_error        text,
  parked_code       text,
  parked_reason     text,
  parked_at         bigint,
  event             text,
  PRIMARY KEY (source, event_id)
) WITH (fillfactor = 50);

-- Parked events, for `refund-relay reconcile list`.
CREATE INDEX refund_events_parked ON refund_events (parked_at) WHERE parked_code IS NOT NULL;

-- The retention sweep walks rows by age. first_seen_at never changes after the insert, so this index
-- costs nothing on updates (an index on updated_at or state would rule out HOT updates).
CREATE INDEX refund_events_first_seen ON refund_events (first_seen_at);

-- Who settled an event by hand, and why. Kept when the retention sweep deletes the event.
CREATE TABLE ledger_audit (
  seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source         text   COLLATE "C" NOT NULL,
  event_id       text   COLLATE "C" NOT NULL,
  at             bigint NOT NULL,
  actor          text   NOT NULL,
  action         text   NOT NULL,
  reason         text   NOT NULL,
  previous_state text   NOT NULL,
  new_state      text   NOT NULL
);
CREATE INDEX ledger_audit_event ON ledger_audit (source, event_id);

-- One row per payment intent that was ever leased. A released lease stays as an expired row, so the
-- next holder's token is still higher than every token handed out before. Claims, renewals and
-- releases change only owner, token and expires_at: no index on them, so those updates stay HOT.
CREATE TABLE intent_leases (
  payment_intent_id text   COLLATE "C" PRIMARY KEY,
  owner             text   NOT NULL,
  token             bigint NOT NULL,
  expires_at        bigint NOT NULL
) WITH (fillfactor = 80);
