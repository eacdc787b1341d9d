// Keeps every message this process holds invisible while it works on it: when a third of the
// visibility timeout is left, the visibility is extended by the full timeout again (batched), so a
// slow Dojo call does not let SQS hand the message to another consumer. Extensions stop at the
// processing cap (well below SQS's 12 hours per receipt). A lease whose visibility ran out without an
// extension, that reached the cap, or whose extension SQS refused is lost: its deliveries are fenced,
// so a late result is neither published nor acknowledged with a stale receipt handle.
import type { Logger } from "../../src/logger.ts";
import type { MessageLeases } from "./leases.ts";
import type { VisibilityChanges } from "./visibility.ts";

export interface HeartbeatOptions {
  readonly leases: MessageLeases;
  readonly visibility: VisibilityChanges;
  readonly logger: Logger;
  /** The visibility timeout asked for on receive, and by which each extension extends. */
  readonly visibilityTimeoutS: number;
  /** How long one receipt may be held before its lease is given up. */
  readonly maxProcessingS: number;
  readonly now?: () => number;
}

export class Heartbeat {
  readonly #o: HeartbeatOptions;
  readonly #now: () => number;
  readonly #extendWithinMs: number;
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** Leases lost to an expired visibility or the processing cap. */
  lost = 0;

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#extendWithinMs = (options.visibilityTimeoutS * 1000) / 3;
    // Several looks per third of the timeout, so an extension that fails has time for another try.
    this.#tickMs = Math.max(50, Math.min(5_000, Math.floor((options.visibilityTimeoutS * 1000) / 10)));
  }

  start(): void {
    this.#timer ??= setInterval(() => this.tick(), this.#tickMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One look at every lease held (public for tests). */
  tick(): void {
    const now = this.#now();
    const { visibilityTimeoutS, maxProcessingS, visibility } = this.#o;
    for (const lease of this.#o.leases.values()) {
      if (!lease.live || lease.extending) continue;
      const capLeftS = Math.floor((lease.receivedAt + maxProcessingS * 1000 - now) / 1000);
      if (capLeftS < 1) {
        lease.lost = "processing_cap";
        this.#lost(lease.messageId, `it was held for SQS_MAX_PROCESSING_S (${maxProcessingS} s)`, true);
        continue;
      }
      if (lease.visibleUntil <= now) {
        lease.lost = "expired";
        this.#lost(lease.messageId, "its visibility ran out before it could be extended");
        continue;
      }
      if (lease.visibleUntil - now > this.#extendWithinMs) continue;
      visibility.extend(lease, Math.min(visibilityTimeoutS, capLeftS));
    }
  }

  #lost(messageId: string, why: string, alert = false): void {
    this.lost += 1;
    this.#o.logger[alert ? "error" : "warn"](
      { messageId, ...(alert ? { alert } : {}) },
      `lost the lease on an SQS message: ${why}; its result will not be acknowledged, its redelivery is answered from the ledger`,
    );
  }
}
