// Retention of the PostgreSQL ledger: settled events (succeeded, failed, published) and leases that
// have not changed for longer than the retention are deleted, a thousand rows per statement so no
// statement holds locks or runs long, by one instance at a time (a session advisory lock that the
// others try and skip). Open events are never deleted, however old: they still await an answer.
//
// The retention must exceed the broker's redelivery horizon: an event redelivered after its row was
// deleted is planned afresh and only Dojo's idempotency key stands between it and a second refund.
import type pg from "pg";
import type { Logger } from "../logger.ts";
import { LOCK_CLASS, SCHEMA_LOCK_KEY } from "./postgres-migrations.ts";

export interface SweepResult {
  /** Another instance was sweeping: nothing was done. */
  readonly skipped: boolean;
  readonly events: number;
  readonly leases: number;
}

export interface RetentionSettings {
  /** 0 keeps everything. */
  readonly retentionDays: number;
  /** 0: no periodic sweep. */
  readonly intervalMs: number;
  readonly batchSize?: number;
  readonly logger?: Logger;
}

const DAY_MS = 86_400_000;
/** The first periodic sweep starts within this long of opening, at random, so a fleet does not start together. */
const FIRST_SWEEP_SPREAD_MS = 300_000;

// The conditions are repeated in the DELETE so a row changed since it was picked is re-checked.
const DELETE_EVENTS = `
  WITH doomed AS (
    SELECT source, event_id, first_seen_at FROM refund_events
     WHERE first_seen_at >= $1 AND first_seen_at < $2 AND updated_at < $2
       AND state IN ('succeeded', 'failed', 'published')
     ORDER BY first_seen_at LIMIT $3
  ), gone AS (
    DELETE FROM refund_events e USING doomed d
     WHERE e.source = d.source AND e.event_id = d.event_id
       AND e.updated_at < $2 AND e.state IN ('succeeded', 'failed', 'published')
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM doomed)::integer AS picked, (SELECT max(first_seen_at) FROM doomed) AS cursor,
         (SELECT count(*) FROM gone)::integer AS deleted`;

const DELETE_LEASES = `
  WITH doomed AS (
    SELECT payment_intent_id FROM intent_leases
     WHERE payment_intent_id > $1 AND expires_at < $2
     ORDER BY payment_intent_id LIMIT $3
  ), gone AS (
    DELETE FROM intent_leases l USING doomed d
     WHERE l.payment_intent_id = d.payment_intent_id AND l.expires_at < $2
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM doomed)::integer AS picked, (SELECT max(payment_intent_id) FROM doomed) AS cursor,
         (SELECT count(*) FROM gone)::integer AS deleted`;

interface Step {
  readonly picked: number;
  readonly cursor: string | null;
  readonly deleted: number;
}

export class RetentionSweeper {
  readonly #pool: pg.Pool;
  readonly #s: RetentionSettings;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<SweepResult> | undefined;
  #stopped = false;

  constructor(pool: pg.Pool, settings: RetentionSettings) {
    this.#pool = pool;
    this.#s = settings;
  }

  start(): void {
    if (this.#s.retentionDays <= 0 || this.#s.intervalMs <= 0 || this.#stopped) return;
    this.#schedule(Math.random() * Math.min(FIRST_SWEEP_SPREAD_MS, this.#s.intervalMs));
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.sweep(new Date())
        .then((result) => {
          if (result.events + result.leases > 0)
            this.#s.logger?.info({ ...result }, "ledger retention sweep");
        })
        .catch((error: unknown) => this.#s.logger?.warn({ err: error }, "ledger retention sweep failed"))
        .finally(() => {
          if (!this.#stopped) this.#schedule(this.#s.intervalMs);
        });
    }, delayMs);
    this.#timer.unref();
  }

  /** One sweep now; a sweep already running (from the timer) is joined rather than doubled. */
  sweep(now: Date): Promise<SweepResult> {
    this.#running ??= this.#sweep(now).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(now: Date): Promise<SweepResult> {
    if (this.#s.retentionDays <= 0) return { skipped: false, events: 0, leases: 0 };
    const cutoff = now.getTime() - this.#s.retentionDays * DAY_MS;
    const batch = this.#s.batchSize ?? 1000;
    const client = await this.#pool.connect();
    // A connection lost while this sweep holds it is reported on its query; this keeps the client's
    // 'error' event from being unhandled in between.
    const ignore = () => undefined;
    client.on("error", ignore);
    let broken: Error | undefined;
    try {
      const lock = `(${LOCK_CLASS.sweep}, ${SCHEMA_LOCK_KEY})`;
      const got = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock${lock} AS locked`);
      if (got.rows[0]?.locked !== true) return { skipped: true, events: 0, leases: 0 };
      try {
        const events = await this.#loop(client, DELETE_EVENTS, "-9223372036854775808", cutoff, batch);
        const leases = await this.#loop(client, DELETE_LEASES, "", cutoff, batch);
        return { skipped: false, events, leases };
      } finally {
        await client.query(`SELECT pg_advisory_unlock${lock}`);
      }
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      client.off("error", ignore);
      // A session lock must never go back to the pool with its connection: a failed unlock ends it.
      client.release(broken);
    }
  }

  async #loop(
    client: pg.PoolClient,
    sql: string,
    start: string,
    cutoff: number,
    batch: number,
  ): Promise<number> {
    let cursor = start;
    let deleted = 0;
    for (;;) {
      if (this.#stopped) return deleted;
      const step = (await client.query<Step>(sql, [cursor, cutoff, batch])).rows[0];
      deleted += step?.deleted ?? 0;
      if (step === undefined || step.picked < batch || step.cursor === null) return deleted;
      cursor = String(step.cursor);
    }
  }

  /** Stops the periodic sweep; a sweep in progress ends after its current statement. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }
}
