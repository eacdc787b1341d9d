// Preflight refuses only what no earlier attempt of this same event could explain; whenever the
// intent's refunds could include this event's own refund, the refund goes to Dojo with the event's key
// (a Reversed intent or a currency mismatch that could be our own work is parked for a person instead).
import { describe, expect, it } from "vitest";
import type { PaymentIntent } from "../../../src/dojo/index.ts";
import {
  couldIncludeOurRefund,
  describeIntent,
  explainRefusal,
  preflightVerdict,
} from "../../../src/pipeline/preflight.ts";

const GBP = "GBP";

function intent(fields: Partial<PaymentIntent> & Pick<PaymentIntent, "status">): PaymentIntent {
  return {
    id: "pi_1",
    captureMode: "Auto",
    amount: { value: 1_000, currencyCode: GBP },
    totalAmount: { value: 1_000, currencyCode: GBP },
    refundedAmount: 0,
    captures: [],
    ...fields,
  };
}

function wants(value: number, currencyCode = GBP) {
  return { amount: { value, currencyCode } };
}

const off = { reverseWhenAuthorized: false };
const on = { reverseWhenAuthorized: true };

describe("couldIncludeOurRefund", () => {
  it("is true only when the refunded total reaches the event's amount: one key pays one whole refund", () => {
    expect(couldIncludeOurRefund(intent({ status: "Captured", refundedAmount: 0 }), 1)).toBe(false);
    expect(couldIncludeOurRefund(intent({ status: "Captured", refundedAmount: 299 }), 300)).toBe(false);
    expect(couldIncludeOurRefund(intent({ status: "Captured", refundedAmount: 300 }), 300)).toBe(true);
    expect(couldIncludeOurRefund(intent({ status: "Refunded", refundedAmount: 1_000 }), 300)).toBe(true);
  });

  it("falls back to the status when the refunded amount is unknown", () => {
    expect(couldIncludeOurRefund(intent({ status: "Refunded", refundedAmount: null }), 300)).toBe(true);
    expect(couldIncludeOurRefund(intent({ status: "Refunded", refundedAmount: undefined }), 300)).toBe(true);
    expect(couldIncludeOurRefund(intent({ status: "Captured", refundedAmount: null }), 300)).toBe(false);
    expect(couldIncludeOurRefund(intent({ status: "Reversed", refundedAmount: null }), 300)).toBe(false);
  });
});

describe("preflightVerdict: captured intents", () => {
  it("refunds a captured intent when the amount fits", () => {
    expect(preflightVerdict(intent({ status: "Captured" }), wants(1_000), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(intent({ status: "Captured" }), wants(1), off)).toEqual({ kind: "refund" });
  });

  it("refunds a partly refunded intent up to what remains", () => {
    const partly = intent({ status: "Captured", refundedAmount: 300 });
    expect(preflightVerdict(partly, wants(700), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(partly, wants(701), off)).toEqual({
      kind: "fail",
      code: "amount_exceeds_refundable",
      message: "amount 701 exceeds the refundable 700 (captured 1000, refunded 300)",
    });
  });

  it("refuses an amount above the captured amount, naming the numbers", () => {
    const verdict = preflightVerdict(intent({ status: "Captured", refundedAmount: 100 }), wants(1_001), off);
    expect(verdict).toEqual({
      kind: "fail",
      code: "amount_exceeds_refundable",
      message: "amount 1001 exceeds the refundable 900 (captured 1000, refunded 100)",
    });
  });

  it("sends an amount above what remains when the refunded total could include this event's refund", () => {
    // Captured 5000, refunded 3000, the event asks 3000: an earlier attempt may have made that refund.
    const partly = intent({
      status: "Captured",
      amount: { value: 5_000, currencyCode: GBP },
      totalAmount: { value: 5_000, currencyCode: GBP },
      refundedAmount: 3_000,
    });
    expect(preflightVerdict(partly, wants(3_000), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(partly, wants(2_999), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(partly, wants(3_001), off)).toMatchObject({ code: "amount_exceeds_refundable" });
  });

  it("sends anything up to the refunded total on a fully refunded intent, and refuses more", () => {
    const full = intent({ status: "Refunded", refundedAmount: 1_000 });
    expect(preflightVerdict(full, wants(1), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(full, wants(1_000), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(full, wants(1_001), off)).toEqual({
      kind: "fail",
      code: "amount_exceeds_refundable",
      message: "amount 1001 exceeds the refundable 0 (captured 1000, refunded 1000)",
    });
  });

  it("sends the refund for a Refunded intent whose refunded amount is unknown", () => {
    expect(preflightVerdict(intent({ status: "Refunded", refundedAmount: null }), wants(5_000), off)).toEqual(
      {
        kind: "refund",
      },
    );
  });

  it("uses totalAmount, else amount, as the captured amount of an Auto intent", () => {
    const withTotal = intent({ status: "Captured", amount: { value: 800, currencyCode: GBP } });
    expect(preflightVerdict(withTotal, wants(1_000), off)).toEqual({ kind: "refund" });
    const noTotal = intent({
      status: "Captured",
      totalAmount: null,
      amount: { value: 800, currencyCode: GBP },
    });
    expect(preflightVerdict(noTotal, wants(800), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(noTotal, wants(801), off)).toMatchObject({ code: "amount_exceeds_refundable" });
  });

  it("sums only the successful captures of a Manual intent", () => {
    const manual = intent({
      status: "Captured",
      captureMode: "Manual",
      captures: [
        { id: "c1", amount: 300, status: "Successful" },
        { id: "c2", amount: 200, status: "Successful" },
        { id: "c3", amount: 400, status: "Failed" },
      ],
    });
    expect(preflightVerdict(manual, wants(500), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(manual, wants(501), off)).toEqual({
      kind: "fail",
      code: "amount_exceeds_refundable",
      message: "amount 501 exceeds the refundable 500 (captured 500, refunded 0)",
    });
  });
});

describe("preflightVerdict: currency", () => {
  it("refuses a return in another currency than the intent's when no refund of ours can be in it", () => {
    const verdict = preflightVerdict(intent({ status: "Captured" }), wants(100, "EUR"), off);
    expect(verdict).toEqual({
      kind: "fail",
      code: "currency_mismatch",
      message: "the return is in EUR but the payment intent is in GBP",
    });
    const someRefunded = intent({ status: "Captured", refundedAmount: 99 });
    expect(preflightVerdict(someRefunded, wants(100, "EUR"), off)).toMatchObject({
      code: "currency_mismatch",
    });
  });

  it("parks a currency mismatch when the intent's refunds could include this event's own refund", () => {
    // Refunds carry no currency: an earlier attempt would have refunded 100 in GBP.
    const refunded = intent({ status: "Captured", refundedAmount: 100 });
    expect(preflightVerdict(refunded, wants(100, "EUR"), off)).toEqual({
      kind: "park",
      message:
        "the return is in EUR but the payment intent is in GBP, and its refunds could include one made for this event",
    });
    expect(
      preflightVerdict(intent({ status: "Refunded", refundedAmount: null }), wants(100, "EUR"), off),
    ).toMatchObject({ kind: "park" });
  });

  it("reports a currency mismatch before any state problem", () => {
    expect(preflightVerdict(intent({ status: "Reversed" }), wants(100, "EUR"), on)).toMatchObject({
      code: "currency_mismatch",
    });
    expect(preflightVerdict(intent({ status: "Authorized" }), wants(1_000, "EUR"), on)).toMatchObject({
      code: "currency_mismatch",
    });
  });
});

describe("preflightVerdict: intents that were not captured", () => {
  it("reverses an authorized intent for its full amount when reversal is on", () => {
    expect(preflightVerdict(intent({ status: "Authorized" }), wants(1_000), on)).toEqual({
      kind: "reversal",
    });
  });

  it("does not reverse an authorized intent for part of its amount", () => {
    const verdict = preflightVerdict(intent({ status: "Authorized" }), wants(999), on);
    expect(verdict).toMatchObject({ kind: "fail", code: "payment_not_captured" });
    if (verdict.kind === "fail") expect(verdict.message).toContain("999 is not its full amount 1000");
  });

  it("does not reverse an authorized intent when reversal is off", () => {
    expect(preflightVerdict(intent({ status: "Authorized" }), wants(1_000), off)).toEqual({
      kind: "fail",
      code: "payment_not_captured",
      message: "the payment intent is authorized but not captured (reversal is switched off)",
    });
  });

  it("does not reverse an authorized intent whose amount is unknown", () => {
    const unknown = intent({ status: "Authorized", amount: null, totalAmount: null });
    expect(preflightVerdict(unknown, wants(1_000), on)).toMatchObject({ code: "payment_not_captured" });
  });

  it("refuses an intent that was never paid", () => {
    expect(preflightVerdict(intent({ status: "Created" }), wants(1_000), on)).toEqual({
      kind: "fail",
      code: "payment_not_captured",
      message: "the payment intent has not been paid",
    });
  });
});

describe("preflightVerdict: reversed and canceled intents", () => {
  it("refuses a Reversed intent that no earlier attempt of this event can have reversed or refunded", () => {
    const expected = {
      kind: "fail",
      code: "payment_not_refundable",
      message: "the payment intent is Reversed and cannot be refunded",
    };
    // Reversal off: this relay never reverses.
    expect(preflightVerdict(intent({ status: "Reversed" }), wants(1_000), off)).toEqual(expected);
    // Reversal on, but only the full amount is ever reversed.
    expect(preflightVerdict(intent({ status: "Reversed" }), wants(999), on)).toEqual(expected);
  });

  it("parks a Reversed intent that an earlier attempt of this event could have reversed", () => {
    const verdict = preflightVerdict(intent({ status: "Reversed" }), wants(1_000), on);
    expect(verdict).toMatchObject({ kind: "park" });
    if (verdict.kind === "park") expect(verdict.message).toContain("reversals carry no idempotency key");
    // The full amount is totalAmount, else amount.
    const noTotal = intent({
      status: "Reversed",
      totalAmount: null,
      amount: { value: 700, currencyCode: GBP },
    });
    expect(preflightVerdict(noTotal, wants(700), on)).toMatchObject({ kind: "park" });
  });

  it("parks a Reversed intent whose refunds could include this event's own refund", () => {
    const refunded = intent({ status: "Reversed", refundedAmount: 400 });
    expect(preflightVerdict(refunded, wants(400), off)).toMatchObject({ kind: "park" });
    expect(preflightVerdict(refunded, wants(401), off)).toMatchObject({ code: "payment_not_refundable" });
  });

  it.each(["Canceled", "SomethingNew"])("refuses a %s intent as not refundable", (status) => {
    expect(preflightVerdict(intent({ status }), wants(1), on)).toEqual({
      kind: "fail",
      code: "payment_not_refundable",
      message: `the payment intent is ${status} and cannot be refunded`,
    });
  });
});

describe("explainRefusal: preflight's reading of a refusal Dojo gave to the key", () => {
  it("names the reason the intent shows, with preflight's codes", () => {
    expect(explainRefusal(intent({ status: "Captured" }), wants(100, "EUR"))).toMatchObject({
      code: "currency_mismatch",
    });
    expect(explainRefusal(intent({ status: "Captured", refundedAmount: 950 }), wants(100))).toEqual({
      code: "amount_exceeds_refundable",
      message: "amount 100 exceeds the refundable 50 (captured 1000, refunded 950)",
    });
    expect(explainRefusal(intent({ status: "Authorized" }), wants(100))).toMatchObject({
      code: "payment_not_captured",
    });
    expect(explainRefusal(intent({ status: "Created" }), wants(100))).toMatchObject({
      code: "payment_not_captured",
    });
    expect(explainRefusal(intent({ status: "Reversed" }), wants(100))).toMatchObject({
      code: "payment_not_refundable",
    });
  });

  it("explains an amount above what remains even when the refunded total could include ours", () => {
    // After Dojo refused the key, a refund of ours is not what the intent shows.
    expect(explainRefusal(intent({ status: "Refunded", refundedAmount: 1_000 }), wants(300))).toMatchObject({
      code: "amount_exceeds_refundable",
    });
  });

  it("finds no reason when the refund fits: Dojo's own refusal then stands", () => {
    expect(explainRefusal(intent({ status: "Captured", refundedAmount: 900 }), wants(100))).toBeUndefined();
  });
});

describe("describeIntent", () => {
  it("summarises the intent for a person, or says it is unknown", () => {
    expect(describeIntent(intent({ status: "Captured", refundedAmount: 300 }))).toBe(
      "Captured, captured 1000, refunded 300 GBP",
    );
    expect(describeIntent(undefined)).toBe("unknown");
  });
});
