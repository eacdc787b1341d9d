-- The ledger's operations, applied server-side so that a whole group commit is one round trip and one
-- transaction: the relay sends a JSON array of operations to refund_relay_apply and gets one result per
-- operation, in order. The rules are those of the SQLite ledger (src/ledger/sqlite-store.ts), statement
-- for statement: the common case is one conditional UPDATE ... RETURNING, and the row is read only to
-- explain a refusal.
--
-- Results are json (text), not jsonb: they are only sent back, and json text is cheaper to build.
-- Each result is {"v": value} or {"e": message}. An "e" is a refusal the caller must see as a
-- LedgerError (an unknown event, a switched method); it changes nothing, and the other operations of
-- the batch still commit. Any SQL error aborts the whole batch instead, and the relay retries it.
--
-- To change an operation, add a migration with CREATE OR REPLACE FUNCTION; never edit this file.

CREATE FUNCTION refund_relay_missing(p_source text, p_event_id text) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('e', format('no ledger entry for event %s %s', p_source, p_event_id))
$$;

CREATE FUNCTION refund_relay_refused(r refund_events, p_reason text) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('v', json_build_object('ok', false, 'row', row_to_json(r), 'reason', p_reason))
$$;

CREATE FUNCTION refund_relay_moved_on(r refund_events, op jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT refund_relay_refused(r, format(
    'the event moved on (expected %s after %s attempts, found %s after %s)',
    op->>'expected_state', op->>'expected_attempts', r.state, r.attempts))
$$;

-- NULL while the writer's lease (if it names one) is still its own; otherwise the refusal, with the row
-- as it is. The lease row is read, not locked (FOR SHARE): a lock would make every write wait for the
-- holder's own renewal of all its leases, and measured, those waits cost more than the rest of the
-- work. What that leaves open: a takeover that commits between this check and the write below. The
-- writer's lease had expired by then (only an expired lease is taken over), and the new holder's
-- writes still name the row they saw, so whichever of the two writes comes second is refused and
-- decides again from the row as it is.
CREATE FUNCTION refund_relay_lease_lost(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  v_intent text := op->>'lease_intent';
  h intent_leases;
  r refund_events;
BEGIN
  IF v_intent IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT * INTO h FROM intent_leases WHERE payment_intent_id = v_intent;
  IF FOUND AND h.owner = op->>'lease_owner' AND h.token = (op->>'lease_token')::bigint THEN
    RETURN NULL;
  END IF;
  SELECT * INTO r FROM refund_events WHERE source = op->>'source' AND event_id = op->>'event_id';
  IF NOT FOUND THEN
    RETURN refund_relay_missing(op->>'source', op->>'event_id');
  END IF;
  RETURN json_build_object('v', json_build_object(
    'ok', false, 'row', row_to_json(r), 'lease_lost', true,
    'reason', format('the lease on payment intent %s is no longer this writer''s (now %s)', v_intent,
      CASE WHEN h.owner IS NULL THEN 'free' ELSE 'held by ' || h.owner END)));
END $$;

CREATE FUNCTION refund_relay_begin(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  v_at bigint := (op->>'at')::bigint;
  r refund_events;
BEGIN
  INSERT INTO refund_events (source, event_id, idempotency_key, request_hash, payment_intent_id,
      merchant_id, amount, currency_code, state, attempts, first_seen_at, updated_at, event)
    VALUES (op->>'source', op->>'event_id', op->>'idempotency_key', op->>'request_hash',
      op->>'payment_intent_id', op->>'merchant_id', (op->>'amount')::bigint, op->>'currency_code',
      'received', 0, v_at, v_at, op->>'event')
    ON CONFLICT DO NOTHING
    RETURNING * INTO r;
  IF FOUND THEN
    RETURN json_build_object('v', json_build_object('kind', 'new', 'row', row_to_json(r)));
  END IF;
  SELECT * INTO r FROM refund_events WHERE source = op->>'source' AND event_id = op->>'event_id';
  IF FOUND THEN
    IF r.request_hash = op->>'request_hash' THEN
      RETURN json_build_object('v', json_build_object('kind', 'existing', 'row', row_to_json(r)));
    END IF;
    RETURN json_build_object('v',
      json_build_object('kind', 'conflict', 'row', row_to_json(r), 'reason', 'content'));
  END IF;
  SELECT * INTO r FROM refund_events WHERE idempotency_key = op->>'idempotency_key';
  IF FOUND THEN
    RETURN json_build_object('v', json_build_object('kind', 'conflict', 'row', row_to_json(r), 'reason', 'key'));
  END IF;
  RETURN json_build_object('e', 'ledger insert was refused for an unknown reason');
END $$;

CREATE FUNCTION refund_relay_mark_submitting(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  v_method text := op->>'method';
  r refund_events;
  lost json := refund_relay_lease_lost(op);
BEGIN
  IF lost IS NOT NULL THEN
    RETURN lost;
  END IF;
  UPDATE refund_events
     SET state = 'submitting', attempts = attempts + 1, method = v_method, updated_at = (op->>'at')::bigint
   WHERE source = op->>'source' AND event_id = op->>'event_id'
     AND state = op->>'expected_state' AND attempts = (op->>'expected_attempts')::integer
     AND state IN ('received', 'submitting', 'unknown') AND (method IS NULL OR method = v_method)
  RETURNING * INTO r;
  IF FOUND THEN
    RETURN json_build_object('v', json_build_object('ok', true, 'row', row_to_json(r)));
  END IF;
  SELECT * INTO r FROM refund_events WHERE source = op->>'source' AND event_id = op->>'event_id';
  IF NOT FOUND THEN
    RETURN refund_relay_missing(op->>'source', op->>'event_id');
  END IF;
  IF r.method IS NOT NULL AND r.method <> v_method THEN
    RETURN json_build_object('e',
      format('cannot submit a %s for an event already submitted as a %s', v_method, r.method));
  END IF;
  IF r.state NOT IN ('received', 'submitting', 'unknown') THEN
    RETURN refund_relay_refused(r, format('cannot submit a refund for an event in state %s', r.state));
  END IF;
  RETURN refund_relay_moved_on(r, op);
END $$;

CREATE FUNCTION refund_relay_mark_unknown(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  r refund_events;
  lost json := refund_relay_lease_lost(op);
BEGIN
  IF lost IS NOT NULL THEN
    RETURN lost;
  END IF;
  UPDATE refund_events
     SET state = 'unknown', attempts = attempts + (op->>'requests')::integer - 1,
         last_error = op->>'error', updated_at = (op->>'at')::bigint
   WHERE source = op->>'source' AND event_id = op->>'event_id'
     AND state = op->>'expected_state' AND attempts = (op->>'expected_attempts')::integer
     AND state IN ('received', 'submitting', 'unknown')
  RETURNING * INTO r;
  IF FOUND THEN
    RETURN json_build_object('v', json_build_object('ok', true, 'row', row_to_json(r)));
  END IF;
  SELECT * INTO r FROM refund_events WHERE source = op->>'source' AND event_id = op->>'event_id';
  IF NOT FOUND THEN
    RETURN refund_relay_missing(op->>'source', op->>'event_id');
  END IF;
  IF r.state NOT IN ('received', 'submitting', 'unknown') THEN
    RETURN refund_relay_refused(r, format('cannot mark an event in state %s as unknown', r.state));
  END IF;
  RETURN refund_relay_moved_on(r, op);
END $$;

-- A success is stored from any open state, replaces a stored failure ("corrected") and keeps a stored
-- success ("kept"); a failure needs the row as the decision saw it and the writer's lease.
CREATE FUNCTION refund_relay_settle(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  v_state text := op->>'state';
  v_outcome text := op->>'outcome';
  v_refund_id text := op->>'refund_id';
  v_extra integer := (op->>'requests')::integer - 1;
  v_at bigint := (op->>'at')::bigint;
  r refund_events;
  previous text;
  lost json;
BEGIN
  IF v_state = 'succeeded' THEN
    UPDATE refund_events
       SET state = v_state, outcome = v_outcome, refund_id = v_refund_id, attempts = attempts + v_extra,
           updated_at = v_at, parked_code = NULL, parked_reason = NULL, parked_at = NULL
     WHERE source = op->>'source' AND event_id = op->>'event_id'
       AND state IN ('received', 'submitting', 'unknown')
    RETURNING * INTO r;
    IF FOUND THEN
      RETURN json_build_object('v', json_build_object('kind', 'settled', 'row', row_to_json(r)));
    END IF;
    SELECT * INTO r FROM refund_events
     WHERE source = op->>'source' AND event_id = op->>'event_id' FOR UPDATE;
    IF NOT FOUND THEN
      RETURN refund_relay_missing(op->>'source', op->>'event_id');
    END IF;
    IF r.refund_id IS NOT NULL THEN
      RETURN json_build_object('v', json_build_object('kind', 'kept', 'row', row_to_json(r)));
    END IF;
    previous := r.outcome;
    UPDATE refund_events
       SET state = v_state, outcome = v_outcome, refund_id = v_refund_id, attempts = attempts + v_extra,
           updated_at = v_at, parked_code = NULL, parked_reason = NULL, parked_at = NULL
     WHERE source = op->>'source' AND event_id = op->>'event_id'
    RETURNING * INTO r;
    RETURN json_build_object('v',
      json_build_object('kind', 'corrected', 'row', row_to_json(r), 'previous', previous));
  END IF;
  IF op->>'expected_state' IS NULL THEN
    RETURN json_build_object('e', 'a failure can only be stored for an expected row');
  END IF;
  lost := refund_relay_lease_lost(op);
  IF lost IS NOT NULL THEN
    IF lost->>'e' IS NOT NULL THEN
      RETURN lost;
    END IF;
    RETURN json_build_object('v', json_build_object('kind', 'lease_lost', 'row', lost->'v'->'row'));
  END IF;
  UPDATE refund_events
     SET state = v_state, outcome = v_outcome, refund_id = v_refund_id, attempts = attempts + v_extra,
         updated_at = v_at, parked_code = NULL, parked_reason = NULL, parked_at = NULL
   WHERE source = op->>'source' AND event_id = op->>'event_id'
     AND state = op->>'expected_state' AND attempts = (op->>'expected_attempts')::integer
     AND state IN ('received', 'submitting', 'unknown')
  RETURNING * INTO r;
  IF FOUND THEN
    RETURN json_build_object('v', json_build_object('kind', 'settled', 'row', row_to_json(r)));
  END IF;
  SELECT * INTO r FROM refund_events WHERE source = op->>'source' AND event_id = op->>'event_id';
  IF NOT FOUND THEN
    RETURN refund_relay_missing(op->>'source', op->>'event_id');
  END IF;
  RETURN json_build_object('v', json_build_object(
    'kind', CASE WHEN r.state IN ('received', 'submitting', 'unknown') THEN 'stale' ELSE 'kept' END,
    'row', row_to_json(r)));
END $$;

CREATE FUNCTION refund_relay_mark_published(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  r refund_events;
BEGIN
  UPDATE refund_events SET state = 'published', updated_at = (op->>'at')::bigint
   WHERE source = op->>'source' AND event_id = op->>'event_id'
     AND state IN ('succeeded', 'failed', 'published')
  RETURNING * INTO r;
  IF FOUND THEN
    RETURN json_build_object('v', row_to_json(r));
  END IF;
  SELECT * INTO r FROM refund_events WHERE source = op->>'source' AND event_id = op->>'event_id';
  IF NOT FOUND THEN
    RETURN refund_relay_missing(op->>'source', op->>'event_id');
  END IF;
  RETURN json_build_object('e', format('cannot mark an event in state %s as published', r.state));
END $$;

CREATE FUNCTION refund_relay_mark_parked(op jsonb) RETURNS json
LANGUAGE sql AS $$
  UPDATE refund_events
     SET parked_code = op->>'code', parked_reason = op->>'reason', parked_at = (op->>'at')::bigint,
         event = COALESCE(op->>'event', event)
   WHERE source = op->>'source' AND event_id = op->>'event_id'
     AND state IN ('received', 'submitting', 'unknown');
  SELECT json_build_object('v', NULL::json);
$$;

CREATE FUNCTION refund_relay_get(op jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('v', (
    SELECT row_to_json(r) FROM refund_events r WHERE source = op->>'source' AND event_id = op->>'event_id'
  ))
$$;

CREATE FUNCTION refund_relay_list_parked(op jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('v', COALESCE(json_agg(row_to_json(r) ORDER BY r.parked_at, r.first_seen_at), '[]'::json))
    FROM (SELECT * FROM refund_events
           WHERE parked_code IS NOT NULL AND state IN ('received', 'submitting', 'unknown')
           ORDER BY parked_at, first_seen_at
           LIMIT (op->>'limit')::bigint) r
$$;

CREATE FUNCTION refund_relay_settle_by_hand(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  r refund_events;
  updated refund_events;
BEGIN
  SELECT * INTO r FROM refund_events
   WHERE source = op->>'source' AND event_id = op->>'event_id' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN refund_relay_missing(op->>'source', op->>'event_id');
  END IF;
  IF r.state NOT IN ('received', 'submitting', 'unknown') THEN
    RETURN refund_relay_refused(r,
      format('the event is already settled (state %s); nothing was changed', r.state));
  END IF;
  UPDATE refund_events
     SET state = op->>'state', outcome = op->>'outcome', refund_id = op->>'refund_id',
         updated_at = (op->>'at')::bigint, parked_code = NULL, parked_reason = NULL, parked_at = NULL
   WHERE source = r.source AND event_id = r.event_id
  RETURNING * INTO updated;
  INSERT INTO ledger_audit (source, event_id, at, actor, action, reason, previous_state, new_state)
    VALUES (r.source, r.event_id, (op->>'at')::bigint, op->>'actor', 'settle-as-' || (op->>'state'),
      op->>'reason', r.state, updated.state);
  RETURN json_build_object('v', json_build_object('ok', true, 'row', row_to_json(updated)));
END $$;

CREATE FUNCTION refund_relay_audit(op jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('v', COALESCE(json_agg(row_to_json(a) ORDER BY a.seq), '[]'::json))
    FROM ledger_audit a WHERE source = op->>'source' AND event_id = op->>'event_id'
$$;

-- Free, expired or already ours: take it; the token grows only when the holder changes.
CREATE FUNCTION refund_relay_claim_intent(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  l intent_leases;
BEGIN
  INSERT INTO intent_leases (payment_intent_id, owner, token, expires_at)
    VALUES (op->>'payment_intent_id', op->>'owner', 1, (op->>'expires_at')::bigint)
    ON CONFLICT (payment_intent_id) DO UPDATE SET
      token = CASE WHEN intent_leases.owner = excluded.owner
                   THEN intent_leases.token ELSE intent_leases.token + 1 END,
      owner = excluded.owner,
      expires_at = excluded.expires_at
    WHERE intent_leases.owner = excluded.owner OR intent_leases.expires_at <= (op->>'at')::bigint
    RETURNING * INTO l;
  IF FOUND THEN
    RETURN json_build_object('v', json_build_object('ok', true, 'lease', row_to_json(l)));
  END IF;
  SELECT * INTO l FROM intent_leases WHERE payment_intent_id = op->>'payment_intent_id';
  RETURN json_build_object('v',
    json_build_object('ok', false, 'holder', l.owner, 'expires_at', l.expires_at));
END $$;

-- Leases are locked in payment intent order (fewer deadlocks between instances renewing overlapping
-- sets) and answered in the order asked.
CREATE FUNCTION refund_relay_renew_intents(op jsonb) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
  x record;
  l intent_leases;
  renewed json[] := '{}';
  positions bigint[] := '{}';
BEGIN
  FOR x IN
    SELECT e->>'payment_intent_id' AS intent, e->>'owner' AS owner, (e->>'token')::bigint AS token, n
      FROM jsonb_array_elements(op->'leases') WITH ORDINALITY AS t(e, n)
     ORDER BY e->>'payment_intent_id', n
  LOOP
    UPDATE intent_leases SET expires_at = (op->>'expires_at')::bigint
     WHERE payment_intent_id = x.intent AND owner = x.owner AND token = x.token
    RETURNING * INTO l;
    IF FOUND THEN
      renewed := renewed || row_to_json(l);
      positions := positions || x.n;
    END IF;
  END LOOP;
  RETURN json_build_object('v', (
    SELECT COALESCE(json_agg(lease ORDER BY pos), '[]'::json)
      FROM unnest(renewed, positions) AS u(lease, pos)));
END $$;

-- Released leases stay as expired rows, so the next holder's token is still higher.
CREATE FUNCTION refund_relay_release_intent(op jsonb) RETURNS json
LANGUAGE sql AS $$
  UPDATE intent_leases SET expires_at = 0
   WHERE payment_intent_id = op->>'payment_intent_id' AND owner = op->>'owner'
     AND token = (op->>'token')::bigint;
  SELECT json_build_object('v', NULL::json);
$$;

-- search_path is pinned to the schema the ledger was migrated in, so the operations find its tables
-- whatever the calling session's path says.
CREATE FUNCTION refund_relay_apply(ops jsonb) RETURNS SETOF json
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  op jsonb;
BEGIN
  FOR op IN SELECT e FROM jsonb_array_elements(ops) WITH ORDINALITY AS t(e, n) ORDER BY n LOOP
    RETURN NEXT CASE op->>'op'
      WHEN 'begin' THEN refund_relay_begin(op)
      WHEN 'markSubmitting' THEN refund_relay_mark_submitting(op)
      WHEN 'markUnknown' THEN refund_relay_mark_unknown(op)
      WHEN 'settle' THEN refund_relay_settle(op)
      WHEN 'markPublished' THEN refund_relay_mark_published(op)
      WHEN 'markParked' THEN refund_relay_mark_parked(op)
      WHEN 'get' THEN refund_relay_get(op)
      WHEN 'listParked' THEN refund_relay_list_parked(op)
      WHEN 'settleByHand' THEN refund_relay_settle_by_hand(op)
      WHEN 'audit' THEN refund_relay_audit(op)
      WHEN 'claimIntent' THEN refund_relay_claim_intent(op)
      WHEN 'renewIntents' THEN refund_relay_renew_intents(op)
      WHEN 'releaseIntent' THEN refund_relay_release_intent(op)
      ELSE json_build_object('e', format('unknown ledger operation %s', op->>'op'))
    END;
  END LOOP;
END $$;
