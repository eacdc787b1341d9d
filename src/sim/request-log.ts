// What the simulator saw: a bounded ring of recent requests plus counters that never roll over, so
// tests can prove "exactly one refund per key" however long the run. Keys are never stored: only the
// account fingerprint.

export interface LoggedRequest {
  readonly seq: number;
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly route: string;
  /** HTTP status sent, or "dropped" (connection destroyed after applying) or "hang" (never answered). */
  readonly outcome: number | "dropped" | "hang";
  readonly fault: string | null;
  readonly idempotencyKey: string | null;
  /** The request's W3C `traceparent` header, so tests can follow a trace into Dojo. */
  readonly traceparent: string | null;
  readonly account: string | null;
  readonly durationMs: number;
}

export class RequestLog {
  readonly #capacity: number;
  readonly #ring: LoggedRequest[] = [];
  #next = 0;
  #seq = 0;
  readonly byRoute: Record<string, number> = {};
  readonly byOutcome: Record<string, number> = {};
  readonly faults: Record<string, number> = {};

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  record(entry: Omit<LoggedRequest, "seq" | "at">): void {
    const full: LoggedRequest = { seq: ++this.#seq, at: new Date().toISOString(), ...entry };
    if (this.#ring.length < this.#capacity) this.#ring.push(full);
    else this.#ring[this.#next] = full;
    this.#next = (this.#next + 1) % this.#capacity;
    this.byRoute[entry.route] = (this.byRoute[entry.route] ?? 0) + 1;
    const outcome = String(entry.outcome);
    this.byOutcome[outcome] = (this.byOutcome[outcome] ?? 0) + 1;
    if (entry.fault !== null) this.faults[entry.fault] = (this.faults[entry.fault] ?? 0) + 1;
  }

  get total(): number {
    return this.#seq;
  }

  /** Oldest first, optionally filtered, at most `limit` of the newest matches. */
  list(filter: { idempotencyKey?: string; route?: string; limit?: number }): LoggedRequest[] {
    const ordered =
      this.#ring.length < this.#capacity
        ? this.#ring
        : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
    const matches = ordered.filter(
      (e) =>
        (filter.idempotencyKey === undefined || e.idempotencyKey === filter.idempotencyKey) &&
        (filter.route === undefined || e.route === filter.route),
    );
    const limit = filter.limit ?? 1000;
    return matches.slice(Math.max(0, matches.length - limit));
  }

  clear(): void {
    this.#ring.length = 0;
    this.#next = 0;
    this.#seq = 0;
    for (const counters of [this.byRoute, this.byOutcome, this.faults]) {
      for (const k of Object.keys(counters)) delete counters[k];
    }
  }
}
