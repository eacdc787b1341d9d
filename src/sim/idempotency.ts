// Idempotency of create refund, as we assume Dojo behaves (Dojo documents the key, not the replies):
// - same key, same request, earlier one finished: the original 200 is replayed, no new refund;
// - same key, different request (other intent, amount, reason or notes): 409;
// - same key while the first request is still being processed: 409;
// - a request that failed (4xx, injected 5xx, hang) leaves no record, so the key can be used again.
// Keys are scoped per account (API key) and kept for the simulator's lifetime.

export interface KeyCounters {
  requests: number;
  refundsCreated: number;
  replays: number;
  conflicts: number;
}

interface Entry {
  readonly fingerprint: string;
  state: "in-flight" | "done";
  response?: unknown;
}

export type Admission =
  | { readonly kind: "proceed" }
  | { readonly kind: "replay"; readonly response: unknown }
  | { readonly kind: "in-flight" }
  | { readonly kind: "mismatch" };

export class IdempotencyStore {
  readonly #entries = new Map<string, Entry>();
  readonly #counters = new Map<string, KeyCounters>();

  counters(key: string): KeyCounters {
    let c = this.#counters.get(key);
    if (c === undefined) {
      c = { requests: 0, refundsCreated: 0, replays: 0, conflicts: 0 };
      this.#counters.set(key, c);
    }
    return c;
  }

  peek(key: string): KeyCounters | undefined {
    return this.#counters.get(key);
  }

  /** Decides what to do with a request; on "proceed" the key is held in flight until settle/release. */
  admit(account: string, key: string, fingerprint: string): Admission {
    const scoped = `${account}\u0000${key}`;
    const entry = this.#entries.get(scoped);
    const counters = this.counters(key);
    if (entry === undefined) {
      this.#entries.set(scoped, { fingerprint, state: "in-flight" });
      return { kind: "proceed" };
    }
    if (entry.fingerprint !== fingerprint) {
      counters.conflicts++;
      return { kind: "mismatch" };
    }
    if (entry.state === "in-flight") {
      counters.conflicts++;
      return { kind: "in-flight" };
    }
    counters.replays++;
    return { kind: "replay", response: entry.response };
  }

  /** The refund was created: remember its response for replays. */
  settle(account: string, key: string, response: unknown): void {
    const entry = this.#entries.get(`${account}\u0000${key}`);
    if (entry === undefined) return;
    entry.state = "done";
    entry.response = response;
    this.counters(key).refundsCreated++;
  }

  /** The request failed without creating anything: forget the key. */
  release(account: string, key: string): void {
    const scoped = `${account}\u0000${key}`;
    if (this.#entries.get(scoped)?.state === "in-flight") this.#entries.delete(scoped);
  }

  get inFlight(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.state === "in-flight") n++;
    return n;
  }

  clear(): void {
    this.#entries.clear();
    this.#counters.clear();
  }
}
