-- Lookups of a payment intent's events (`refund-relay inspect --intent`), which otherwise read the
-- whole table. payment_intent_id never changes after the insert, so the index costs one entry per new
-- event and no update loses its HOT path (see 001 on fillfactor).
--
-- Migrations run in one transaction, so the index cannot be built CONCURRENTLY here, and building it
-- holds the table's writes back until it is done. On a large ledger, build it by hand first, while the
-- relays run:
--   CREATE INDEX CONCURRENTLY refund_events_payment_intent ON refund_events (payment_intent_id);
-- and this migration then finds it there and only records itself.
CREATE INDEX IF NOT EXISTS refund_events_payment_intent ON refund_events (payment_intent_id);
