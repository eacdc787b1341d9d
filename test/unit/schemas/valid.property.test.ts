import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeReturnApproved, PAYMENT_INTENT_ID_PATTERN } from "../../../schemas/index.ts";

const noControl = (s: string) => !/\p{Cc}/u.test(s);
const time = fc
  .date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true })
  .map((d) => d.toISOString());

const event = fc.record({
  specversion: fc.constant("1.0"),
  id: fc.stringMatching(/^[\x21-\x7E]{1,256}$/),
  source: fc.stringMatching(/^[\x21-\x7E]{1,512}$/),
  type: fc.constantFrom("return.approved", "return.approved.v1"),
  time,
  data: fc.record(
    {
      returnId: fc.stringMatching(/^[\x21-\x7E]{1,128}$/),
      orderId: fc.stringMatching(/^[\x21-\x7E]{1,128}$/),
      paymentIntentId: fc.stringMatching(PAYMENT_INTENT_ID_PATTERN),
      amount: fc.record({
        value: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        currencyCode: fc.stringMatching(/^[A-Z]{3}$/),
      }),
      reason: fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }).filter(noControl),
      notes: fc.string({ unit: "grapheme", maxLength: 200 }).filter(noControl),
      approvedAt: time,
      metadata: fc.dictionary(
        fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/),
        fc.string().filter(noControl),
        {
          maxKeys: 32,
        },
      ),
    },
    { requiredKeys: ["returnId", "orderId", "paymentIntentId", "amount", "reason", "approvedAt"] },
  ),
});

describe("valid return.approved events", () => {
  it("are accepted whatever their values within the documented limits, and decode to themselves", () => {
    fc.assert(
      fc.property(event, (e) => {
        const result = decodeReturnApproved({ body: JSON.stringify(e), transport: "kafka" });
        if (!result.ok) throw new Error(result.message);
        expect(result.event).toEqual(e);
      }),
      { numRuns: 300 },
    );
  });
});
