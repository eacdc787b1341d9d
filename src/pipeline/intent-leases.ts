// Leases on payment intents, for relay instances that share a ledger. The in-process scheduler runs
// one intent's events one at a time; the lease extends that rule across instances: an instance works
// on an intent's events only while it holds the intent's lease, taken when a burst of them starts,
// renewed in the background while they run (Dojo calls included) and released when the last one is
// done. No database connection is held across a Dojo call. A lease that another instance took over
// (ours expired, say while the ledger was unreachable) fences our late writes: the ledger refuses them
// and the delivery takes the lease again before it goes on.
import type { IntentLease, Ledger } from "../ledger/index.ts";
import type { Logger } from "../logger.ts";
import { type Delivery, Stopped } from "./delivery.ts";

/** Thrown when the ledger refused a write because our lease on the intent was taken over. */
export class LeaseLost extends Error {
  override readonly name = "LeaseLost";
}

export interface LeaseSettings {
  /** Identifies this relay instance in the ledger (host, process and a random part). */
  readonly owner: string;
  /** How long a lease lasts without renewal; renewed every third of it. */
  readonly ttlMs: number;
}

/** Longest single wait for a lease another instance holds, so its release is noticed soon. */
const MAX_POLL_MS = 1_000;

export class IntentLeases {
  readonly #s: LeaseSettings;
  readonly #ledger: Ledger;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #held = new Map<string, IntentLease>();
  #timer: NodeJS.Timeout | undefined;
  #renewing = false;

  constructor(settings: LeaseSettings, deps: { ledger: Ledger; logger: Logger; now: () => Date }) {
    this.#s = settings;
    this.#ledger = deps.ledger;
    this.#log = deps.logger;
    this.#now = deps.now;
  }

  get owner(): string {
    return this.#s.owner;
  }

  /** Leases held now. */
  get held(): number {
    return this.#held.size;
  }

  /**
   * The lease on the intent, taken if needed. Waits while another instance holds it (the wait spends
   * none of the delivery's retry budget); throws Stopped when the delivery is stopped meanwhile.
   */
  async acquire(paymentIntentId: string, delivery: Delivery): Promise<IntentLease> {
    const held = this.#held.get(paymentIntentId);
    if (held !== undefined && held.expiresAt.getTime() - this.#now().getTime() > this.#s.ttlMs / 3)
      return held;
    let waitedSince: number | undefined;
    for (;;) {
      delivery.checkStop();
      const now = this.#now();
      const claim = await this.#ledger.claimIntent(paymentIntentId, this.#s.owner, this.#s.ttlMs, now);
      if (claim.ok) {
        this.#held.set(paymentIntentId, claim.lease);
        this.#startRenewing();
        if (waitedSince !== undefined) delivery.startedAt += now.getTime() - waitedSince;
        return claim.lease;
      }
      if (waitedSince === undefined) {
        waitedSince = now.getTime();
        this.#log.info(
          { paymentIntentId, holder: claim.holder, until: claim.expiresAt.toISOString() },
          "another relay instance is working on this payment intent; waiting for its lease",
        );
      }
      const wait = Math.max(10, Math.min(MAX_POLL_MS, claim.expiresAt.getTime() - now.getTime()));
      if (!(await delivery.sleepFor(wait))) throw new Stopped();
    }
  }

  /** Forgets a lease the ledger says we lost; the next acquire takes it again. */
  lost(paymentIntentId: string): void {
    this.#held.delete(paymentIntentId);
  }

  /** Gives the lease up once the intent has no more events here. */
  release(paymentIntentId: string): void {
    const lease = this.#held.get(paymentIntentId);
    if (lease === undefined) return;
    this.#held.delete(paymentIntentId);
    this.#ledger
      .releaseIntent(lease)
      .catch((error: unknown) =>
        this.#log.warn({ err: error, paymentIntentId }, "could not release a lease; it expires by itself"),
      );
    if (this.#held.size === 0) this.#stopRenewing();
  }

  /** Releases every lease (at shutdown, so other instances need not wait for them to expire). */
  async releaseAll(): Promise<void> {
    this.#stopRenewing();
    const leases = [...this.#held.values()];
    this.#held.clear();
    await Promise.allSettled(leases.map((lease) => this.#ledger.releaseIntent(lease)));
  }

  #startRenewing(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#renew(), Math.max(100, Math.floor(this.#s.ttlMs / 3)));
    this.#timer.unref();
  }

  #stopRenewing(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#held.size === 0) return;
    this.#renewing = true;
    const leases = [...this.#held.values()];
    try {
      const renewed = await this.#ledger.renewIntents(leases, this.#s.ttlMs, this.#now());
      const kept = new Set(renewed.map((l) => l.paymentIntentId));
      for (const lease of renewed) {
        // A lease released meanwhile stays released.
        if (this.#held.get(lease.paymentIntentId)?.token === lease.token)
          this.#held.set(lease.paymentIntentId, lease);
      }
      for (const lease of leases) {
        if (!kept.has(lease.paymentIntentId) && this.#held.get(lease.paymentIntentId) === lease) {
          this.#held.delete(lease.paymentIntentId);
          this.#log.warn(
            { paymentIntentId: lease.paymentIntentId },
            "lost the lease on a payment intent to another instance; its writes will be refused",
          );
        }
      }
    } catch (error) {
      // The ledger is unreachable: the pipeline's own writes report that; the next tick tries again.
      this.#log.warn({ err: error, leases: leases.length }, "could not renew leases");
    } finally {
      this.#renewing = false;
    }
  }
}
