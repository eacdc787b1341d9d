// The PostgreSQL ledger's read-only lookups (LedgerLookup), for the command line. Plain queries on the
// ledger's pool rather than operations of refund_relay_apply: they change nothing, need no ordering with
// the writes, and should not share a batch (or its transaction) with the relay's hot path. Rows come
// back with the columns of the SQLite ledger's rows (bigints as text), so both backends turn them into
// entries with the same code.
import type pg from "pg";
import * as results from "./postgres-results.ts";
import { toEntry } from "./sqlite.ts";
import type { Row } from "./sqlite-store.ts";
import { jsonSpelling } from "./sqlite-store.ts";
import type { IntentLease, LedgerEntry } from "./types.ts";

// By event id: the primary key (source, event_id) is walked once per distinct source (a handful),
// rather than the table scanned. By return id: the stored texts are searched for the id as JSON spells
// it before any is parsed (a scan: no index on the texts, which every settlement rewrites). By payment
// intent: the index of migration 004.
const BY_EVENT_ID = `WITH RECURSIVE sources(source) AS (
    SELECT min(source) FROM refund_events
    UNION ALL
    SELECT (SELECT min(e.source) FROM refund_events e WHERE e.source > s.source)
      FROM sources s WHERE s.source IS NOT NULL)
  SELECT r.* FROM sources JOIN refund_events r ON r.source = sources.source AND r.event_id = $1
  ORDER BY r.first_seen_at, r.source, r.event_id LIMIT $2`;

const BY_RETURN_ID = `SELECT * FROM refund_events
  WHERE CASE WHEN strpos(event, $2) > 0 THEN event::json #>> '{data,returnId}' END = $1
     OR CASE WHEN strpos(outcome, $2) > 0 THEN outcome::json #>> '{data,returnId}' END = $1
  ORDER BY first_seen_at, source, event_id LIMIT $3`;

const BY_PAYMENT_INTENT = `SELECT * FROM refund_events WHERE payment_intent_id = $1
  ORDER BY first_seen_at, source, event_id LIMIT $2`;

const INTENT_LEASE = "SELECT * FROM intent_leases WHERE payment_intent_id = $1";

/** PostgreSQL cannot hold a NUL or an unpaired surrogate: no stored value has one, so nothing matches. */
const storable = (value: string) => !value.includes("\u0000") && value.isWellFormed();

export async function findByEventId(pool: pg.Pool, eventId: string, limit: number): Promise<LedgerEntry[]> {
  if (!storable(eventId)) return [];
  const found = await pool.query<Row>(BY_EVENT_ID, [eventId, limit]);
  return found.rows.map(toEntry);
}

export async function findByReturnId(pool: pg.Pool, returnId: string, limit: number): Promise<LedgerEntry[]> {
  if (!storable(returnId)) return [];
  const found = await pool.query<Row>(BY_RETURN_ID, [returnId, jsonSpelling(returnId), limit]);
  return found.rows.map(toEntry);
}

export async function findByPaymentIntent(
  pool: pg.Pool,
  paymentIntentId: string,
  limit: number,
): Promise<LedgerEntry[]> {
  if (!storable(paymentIntentId)) return [];
  const found = await pool.query<Row>(BY_PAYMENT_INTENT, [paymentIntentId, limit]);
  return found.rows.map(toEntry);
}

export async function intentLease(pool: pg.Pool, paymentIntentId: string): Promise<IntentLease | undefined> {
  if (!storable(paymentIntentId)) return undefined;
  const found = await pool.query<Parameters<typeof results.toLease>[0]>(INTENT_LEASE, [paymentIntentId]);
  const row = found.rows[0];
  return row === undefined ? undefined : results.toLease(row);
}
