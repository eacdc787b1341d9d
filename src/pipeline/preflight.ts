// Preflight: read the payment intent before asking for money back, and answer definitively without
// calling the refund endpoint when the refund cannot succeed, keeping predictable refusals off Dojo's
// write path and giving them stable codes.
//
// The key is the truth: the ledger row that says whether this event was already sent may be missing
// (a partition moved, a lost disk) or stale (another instance moved on), and an earlier attempt of this
// very event may be part of what the intent shows as refunded. Preflight therefore refuses only what no
// earlier attempt of this event could explain. Whenever the intent's refunds could include this event's
// own refund, the refund goes to Dojo with the event's idempotency key and Dojo answers: a repeated key
// returns the first refund (see README, "What rests on Dojo's replay behaviour").
import type { ReturnApprovedData } from "../../schemas/index.ts";
import { type PaymentIntent, refundableAmount } from "../dojo/index.ts";

export type RefusalCode =
  | "currency_mismatch"
  | "payment_not_captured"
  | "payment_not_refundable"
  | "amount_exceeds_refundable";

export type PreflightVerdict =
  | { readonly kind: "refund" }
  | { readonly kind: "reversal" }
  | { readonly kind: "fail"; readonly code: RefusalCode; readonly message: string }
  /** The intent may show this event's own earlier work, and sending again is not safe: a person decides. */
  | { readonly kind: "park"; readonly message: string };

export interface PreflightOptions {
  readonly reverseWhenAuthorized: boolean;
}

/**
 * Whether the intent's refunds could include a refund of `amount` made by an earlier attempt of this
 * event: one key pays one whole refund, so a refunded total below the amount rules it out.
 */
export function couldIncludeOurRefund(intent: PaymentIntent, amount: number): boolean {
  const refunded = intent.refundedAmount;
  if (refunded === null || refunded === undefined) return intent.status === "Refunded";
  return refunded >= amount;
}

function authorizedTotal(intent: PaymentIntent): number | undefined {
  return intent.totalAmount?.value ?? intent.amount?.value;
}

/** Whether the intent could be Reversed by an earlier attempt of this event (a reversal we sent). */
function couldBeOurReversal(
  intent: PaymentIntent,
  data: Pick<ReturnApprovedData, "amount">,
  o: PreflightOptions,
) {
  return o.reverseWhenAuthorized && data.amount.value === authorizedTotal(intent);
}

/** Decides from a payment intent whether, and how, the approved return can be paid back. */
export function preflightVerdict(
  intent: PaymentIntent,
  data: Pick<ReturnApprovedData, "amount">,
  options: PreflightOptions,
): PreflightVerdict {
  const wanted = data.amount;
  const money = refundableAmount(intent);
  const ours = couldIncludeOurRefund(intent, wanted.value);
  const intentCurrency = money.currencyCode;
  if (intentCurrency !== null && intentCurrency !== wanted.currencyCode) {
    const message = `the return is in ${wanted.currencyCode} but the payment intent is in ${intentCurrency}`;
    // Refunds carry no currency: an earlier attempt would have refunded in the intent's currency.
    return ours
      ? { kind: "park", message: `${message}, and its refunds could include one made for this event` }
      : { kind: "fail", code: "currency_mismatch", message };
  }
  switch (intent.status) {
    case "Captured":
    case "Refunded": {
      if (wanted.value <= money.remaining || ours) return { kind: "refund" };
      return {
        kind: "fail",
        code: "amount_exceeds_refundable",
        message: `amount ${wanted.value} exceeds the refundable ${money.remaining} (captured ${money.captured}, refunded ${money.refunded})`,
      };
    }
    case "Authorized": {
      const authorized = authorizedTotal(intent);
      if (options.reverseWhenAuthorized && authorized !== undefined && wanted.value === authorized) {
        return { kind: "reversal" };
      }
      return {
        kind: "fail",
        code: "payment_not_captured",
        message: options.reverseWhenAuthorized
          ? `the payment intent is authorized but not captured, and ${wanted.value} is not its full amount ${authorized ?? "(unknown)"}, so it cannot be reversed`
          : "the payment intent is authorized but not captured (reversal is switched off)",
      };
    }
    case "Created":
      return { kind: "fail", code: "payment_not_captured", message: "the payment intent has not been paid" };
    case "Reversed":
      if (couldBeOurReversal(intent, data, options) || ours) {
        return {
          kind: "park",
          message:
            "the payment intent is Reversed, and the reversal (or a refund) could have been made for this event by an earlier attempt; reversals carry no idempotency key, so only a person can tell",
        };
      }
      return {
        kind: "fail",
        code: "payment_not_refundable",
        message: "the payment intent is Reversed and cannot be refunded",
      };
    default:
      return {
        kind: "fail",
        code: "payment_not_refundable",
        message: `the payment intent is ${intent.status} and cannot be refunded`,
      };
  }
}

/**
 * Preflight's reading of a refusal Dojo gave to this event's key: what about the intent makes the
 * refund impossible, or undefined when the intent shows no reason (Dojo's own refusal then stands).
 */
export function explainRefusal(
  intent: PaymentIntent,
  data: Pick<ReturnApprovedData, "amount">,
): { readonly code: RefusalCode; readonly message: string } | undefined {
  const wanted = data.amount;
  const money = refundableAmount(intent);
  if (money.currencyCode !== null && money.currencyCode !== wanted.currencyCode) {
    return {
      code: "currency_mismatch",
      message: `the return is in ${wanted.currencyCode} but the payment intent is in ${money.currencyCode}`,
    };
  }
  switch (intent.status) {
    case "Captured":
    case "Refunded":
      if (wanted.value <= money.remaining) return undefined;
      return {
        code: "amount_exceeds_refundable",
        message: `amount ${wanted.value} exceeds the refundable ${money.remaining} (captured ${money.captured}, refunded ${money.refunded})`,
      };
    case "Authorized":
    case "Created":
      return {
        code: "payment_not_captured",
        message: `the payment intent is ${intent.status}, not captured`,
      };
    default:
      return {
        code: "payment_not_refundable",
        message: `the payment intent is ${intent.status} and cannot be refunded`,
      };
  }
}

/** A short description of the intent for a person reconciling by hand. */
export function describeIntent(intent: PaymentIntent | undefined): string {
  if (intent === undefined) return "unknown";
  const money = refundableAmount(intent);
  return `${intent.status}, captured ${money.captured}, refunded ${money.refunded}${money.currencyCode === null ? "" : ` ${money.currencyCode}`}`;
}
