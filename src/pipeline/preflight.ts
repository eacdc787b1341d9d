// Preflight: read the payment intent before asking for money back, and answer definitively without
// calling the refund endpoint when the refund cannot succeed. This keeps predictable refusals
// (wrong currency, nothing captured, too large) off Dojo's write path and gives them stable codes.
import type { ReturnApprovedData } from "../../schemas/index.ts";
import { type PaymentIntent, refundableAmount } from "../dojo/index.ts";

export type PreflightVerdict =
  | { readonly kind: "refund" }
  | { readonly kind: "reversal" }
  | {
      readonly kind: "fail";
      readonly code:
        | "currency_mismatch"
        | "payment_not_captured"
        | "payment_not_refundable"
        | "amount_exceeds_refundable";
      readonly message: string;
    };

/** Decides from a payment intent whether, and how, the approved return can be paid back. */
export function preflightVerdict(
  intent: PaymentIntent,
  data: Pick<ReturnApprovedData, "amount">,
  options: { readonly reverseWhenAuthorized: boolean },
): PreflightVerdict {
  const wanted = data.amount;
  const money = refundableAmount(intent);
  const intentCurrency = money.currencyCode;
  if (intentCurrency !== null && intentCurrency !== wanted.currencyCode) {
    return {
      kind: "fail",
      code: "currency_mismatch",
      message: `the return is in ${wanted.currencyCode} but the payment intent is in ${intentCurrency}`,
    };
  }
  switch (intent.status) {
    case "Captured":
    case "Refunded": {
      if (wanted.value > money.remaining) {
        return {
          kind: "fail",
          code: "amount_exceeds_refundable",
          message: `amount ${wanted.value} exceeds the refundable ${money.remaining} (captured ${money.captured}, refunded ${money.refunded})`,
        };
      }
      return { kind: "refund" };
    }
    case "Authorized": {
      const authorized = intent.totalAmount?.value ?? intent.amount?.value;
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
    default:
      return {
        kind: "fail",
        code: "payment_not_refundable",
        message: `the payment intent is ${intent.status} and cannot be refunded`,
      };
  }
}
