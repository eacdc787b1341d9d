import { describe, expect, it } from "vitest";
import type { PaymentIntent } from "../../../src/dojo/index.ts";
import { preflightVerdict } from "../../../src/pipeline/preflight.ts";

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

describe("preflightVerdict", () => {
  it("refunds a captured intent when the amount fits", () => {
    expect(preflightVerdict(intent({ status: "Captured" }), wants(1_000), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(intent({ status: "Captured" }), wants(1), off)).toEqual({ kind: "refund" });
  });

  it("refunds a partly refunded intent up to what remains", () => {
    const partly = intent({ status: "Refunded", refundedAmount: 600 });
    expect(preflightVerdict(partly, wants(400), off)).toEqual({ kind: "refund" });
    expect(preflightVerdict(partly, wants(401), off)).toMatchObject({
      kind: "fail",
      code: "amount_exceeds_refundable",
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

  it("refuses anything on a fully refunded intent", () => {
    const full = intent({ status: "Refunded", refundedAmount: 1_000 });
    expect(preflightVerdict(full, wants(1), off)).toMatchObject({ code: "amount_exceeds_refundable" });
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

  it("refuses a return in another currency than the intent's", () => {
    const verdict = preflightVerdict(intent({ status: "Captured" }), wants(100, "EUR"), off);
    expect(verdict).toEqual({
      kind: "fail",
      code: "currency_mismatch",
      message: "the return is in EUR but the payment intent is in GBP",
    });
  });

  it("reports a currency mismatch before any state problem", () => {
    expect(preflightVerdict(intent({ status: "Reversed" }), wants(100, "EUR"), on)).toMatchObject({
      code: "currency_mismatch",
    });
    expect(preflightVerdict(intent({ status: "Authorized" }), wants(1_000, "EUR"), on)).toMatchObject({
      code: "currency_mismatch",
    });
  });

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

  it.each(["Reversed", "Canceled", "SomethingNew"])("refuses a %s intent as not refundable", (status) => {
    expect(preflightVerdict(intent({ status }), wants(1), on)).toEqual({
      kind: "fail",
      code: "payment_not_refundable",
      message: `the payment intent is ${status} and cannot be refunded`,
    });
  });
});
