-- The CHECK constraints on refund_events.state and refund_events.method go. Every write to the table
-- is one of the ledger's own functions (002 and later), and each one names the states and the method it
-- writes, so the constraints could never fire. They still cost: PostgreSQL rebuilds a table's CHECK
-- expressions from their stored text each time a statement that writes the table starts, and the ledger
-- starts three or four such statements per event inside refund_relay_apply. Measured on the 2-core
-- machine the benchmarks run on, that was about a seventh of the server's time per event.
--
-- The allowed values stay documented here and in src/ledger/types.ts:
--   state:  received, submitting, unknown, succeeded, failed, published
--   method: refund, reversal (or NULL before the first submission)
ALTER TABLE refund_events DROP CONSTRAINT IF EXISTS refund_events_state_check;
ALTER TABLE refund_events DROP CONSTRAINT IF EXISTS refund_events_method_check;
