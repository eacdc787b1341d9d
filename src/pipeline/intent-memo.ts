// The per-intent read memo. When several events of one payment intent are waiting (a burst of partial
// returns; they run one at a time), preflight reads the intent once and this relay's own confirmed
// refunds are added to that read for the next event, for at most REMEMBER_INTENT_MS. A remembered read
// may only let a refund go ahead: Dojo enforces the refundable amount itself, and every refusal is
// decided on a fresh read. Nothing is remembered once an intent has no more waiting events.
import type { PaymentIntent } from "../dojo/index.ts";

/** How long a preflight read may stand in for the next events of the same payment intent. */
export const REMEMBER_INTENT_MS = 5_000;

interface Remembered {
  readonly merchantId: string | undefined;
  readonly intent: PaymentIntent;
  readonly readAt: number;
}

export class IntentMemo {
  /** Deliveries accepted and not finished, per payment intent. */
  readonly #pending = new Map<string, number>();
  readonly #reads = new Map<string, Remembered>();

  /** A delivery of the intent was accepted. */
  accepted(paymentIntentId: string): void {
    this.#pending.set(paymentIntentId, (this.#pending.get(paymentIntentId) ?? 0) + 1);
  }

  /** A delivery of the intent is over; the last one forgets the remembered read and returns true. */
  finished(paymentIntentId: string): boolean {
    const left = (this.#pending.get(paymentIntentId) ?? 1) - 1;
    if (left > 0) {
      this.#pending.set(paymentIntentId, left);
      return false;
    }
    this.#pending.delete(paymentIntentId);
    this.#reads.delete(paymentIntentId);
    return true;
  }

  /** Whether events of the intent other than the running one are waiting (worth remembering a read for). */
  othersPending(paymentIntentId: string): boolean {
    return (this.#pending.get(paymentIntentId) ?? 0) > 1;
  }

  /** The remembered read, if it is recent and was made with the same merchant's key. */
  recall(paymentIntentId: string, merchantId: string | undefined, now: number): PaymentIntent | undefined {
    const remembered = this.#reads.get(paymentIntentId);
    if (remembered === undefined) return undefined;
    if (remembered.merchantId !== merchantId || now - remembered.readAt > REMEMBER_INTENT_MS) {
      this.#reads.delete(paymentIntentId);
      return undefined;
    }
    return remembered.intent;
  }

  /** Keeps a fresh read for the events still waiting. */
  remember(
    paymentIntentId: string,
    merchantId: string | undefined,
    intent: PaymentIntent,
    readAt: number,
  ): void {
    if (this.othersPending(paymentIntentId)) this.#reads.set(paymentIntentId, { merchantId, intent, readAt });
  }

  /**
   * Takes the remembered read away before a write to Dojo: whatever happens next changes the intent
   * or leaves it unknown. Give it back with `confirmRefund` only when Dojo confirmed the refund.
   */
  take(paymentIntentId: string): Remembered | undefined {
    const remembered = this.#reads.get(paymentIntentId);
    this.#reads.delete(paymentIntentId);
    return remembered;
  }

  /** Puts a taken read back with the confirmed refund added to its refunded amount. */
  confirmRefund(paymentIntentId: string, taken: Remembered | undefined, amount: number): void {
    if (taken === undefined || !this.othersPending(paymentIntentId)) return;
    const { intent } = taken;
    this.#reads.set(paymentIntentId, {
      ...taken,
      intent: { ...intent, refundedAmount: (intent.refundedAmount ?? 0) + amount },
    });
  }
}
