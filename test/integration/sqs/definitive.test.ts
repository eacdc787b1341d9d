// Definitive answers over SQS: a reused event id with other content, a return larger than what is left
// to refund, payments Dojo cannot refund, and Dojo itself refusing the refund. Each is answered with
// refund.failed and its code, without a refund at Dojo for the refused event; a re-delivered message
// is answered again with the same outcome id. A standard queue keeps no order, so messages sent
// together may be taken up in either order: the assertions name what fits either.
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import { DEFAULT_DOJO_API_VERSION } from "../../../src/dojo/limits.ts";
import { returnApproved } from "../../support/events.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import { SIM_KEY, SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";

const servers = await sqsServers();

describe.each(servers)("relay over SQS ($name): definitive answers", ({ endpoint }) => {
  let h: SqsHarness;

  beforeAll(async () => {
    h = await new SqsHarness({ endpoint }).setUp();
    await h.startRelay();
  });
  afterEach(async () => {
    await h.dojo.clearFaults();
  });
  afterAll(async () => {
    await h?.tearDown();
  });

  const failureOf = (eventId: string) => h.outcomesOf(eventId).find((o) => o.json?.type === "refund.failed");
  const keyOf = (event: ReturnType<typeof returnApproved>) => idempotencyKeyFor(event);

  it("answers idempotency_conflict to a reused event id with other content, without a second refund", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const id = randomUUID();
    const versions = [
      returnApproved({ id, paymentIntentId: pi, amount: 1000 }),
      returnApproved({ id, paymentIntentId: pi, amount: 4000 }),
    ];
    await h.send(versions.map((e) => structuredMessage(e)));

    await h.waitFor(() => h.outcomesOf(id).length === 2, "two outcomes for the reused id");
    const succeeded = h.outcomesOf(id).filter((o) => o.json?.type === "refund.succeeded");
    const failed = h.outcomesOf(id).filter((o) => o.json?.type === "refund.failed");
    expect(succeeded).toHaveLength(1);
    expect(failed).toHaveLength(1);
    // Whichever version was taken up first is refunded; the other is refused for its content.
    const winnerAmount = (succeeded[0]?.json?.data.amount as { value?: number } | undefined)?.value;
    const loserAmount = winnerAmount === 1000 ? 4000 : 1000;
    expect([1000, 4000]).toContain(winnerAmount);
    expect(failed[0]?.json).toMatchObject({
      type: "refund.failed",
      data: {
        code: "idempotency_conflict",
        attempts: 0,
        amount: { value: loserAmount, currencyCode: "GBP" },
      },
    });
    expect(failed[0]?.json?.id).not.toBe(succeeded[0]?.json?.id);
    const refunds = await h.dojo.refundsOf(pi);
    expect(refunds.refunds.map((r) => r.amount)).toEqual([winnerAmount]);
    expect(await h.dojo.idempotency(keyOf(versions[0] as (typeof versions)[0]))).toMatchObject({
      requests: 1,
      refundsCreated: 1,
    });

    // Both versions delivered again: each gets the answer it got before, with the same outcome id.
    await h.send(versions.map((e) => structuredMessage(e)));
    await h.waitFor(() => h.outcomesOf(id).length === 4, "four outcomes for the reused id");
    const ids = (type: string) =>
      h
        .outcomesOf(id)
        .filter((o) => o.json?.type === type)
        .map((o) => o.json?.id);
    expect(ids("refund.succeeded")).toEqual([succeeded[0]?.json?.id, succeeded[0]?.json?.id]);
    expect(ids("refund.failed")).toEqual([failed[0]?.json?.id, failed[0]?.json?.id]);
    expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(1);
    expect((await h.dojo.idempotency(keyOf(versions[0] as (typeof versions)[0]))).requests).toBe(1);
    await expect.poll(() => h.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });
  });

  it("refuses a return above what is left to refund without calling Dojo's refund endpoint", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const first = returnApproved({ paymentIntentId: pi, amount: 2000 });
    const over = returnApproved({ paymentIntentId: pi, amount: 3500 });
    await h.send([structuredMessage(first)]);
    await h.waitFor(() => h.outcomesOf(first.id).length === 1, "the first return's outcome");
    await h.send([structuredMessage(over)]);

    await h.waitFor(() => h.outcomesOf(over.id).length === 1, "the second return's outcome");
    expect(h.outcomesOf(first.id)[0]?.json?.type).toBe("refund.succeeded");
    // 2,000 refunded cannot include a refund of 3,500: preflight alone answers.
    const data = failureOf(over.id)?.json?.data;
    expect(data).toMatchObject({
      code: "amount_exceeds_refundable",
      paymentIntentId: pi,
      amount: { value: 3500, currencyCode: "GBP" },
      attempts: 0,
    });
    expect(data?.idempotencyKey).toBeUndefined();
    expect((await h.dojo.idempotency(keyOf(over))).requests).toBe(0);
    expect((await h.dojo.refundsOf(pi)).refunds.map((r) => r.amount)).toEqual([2000]);
  });

  it("refunds one of two partial returns that together exceed the payment and refuses the other", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const returns = [
      returnApproved({ paymentIntentId: pi, amount: 3000 }),
      returnApproved({ paymentIntentId: pi, amount: 2500 }),
    ];
    await h.send(returns.map((e) => structuredMessage(e)));

    await h.waitFor(() => returns.every((e) => h.outcomesOf(e.id).length === 1), "an outcome per return");
    const refused = returns.filter((e) => failureOf(e.id) !== undefined);
    const refunded = returns.filter((e) => h.outcomesOf(e.id)[0]?.json?.type === "refund.succeeded");
    expect(refused).toHaveLength(1);
    expect(refunded).toHaveLength(1);
    const over = refused[0] as (typeof returns)[0];
    const data = failureOf(over.id)?.json?.data;
    expect(data).toMatchObject({
      code: "amount_exceeds_refundable",
      paymentIntentId: pi,
      amount: over.data.amount,
    });
    const refunds = await h.dojo.refundsOf(pi);
    expect(refunds.refunds.map((r) => r.amount)).toEqual([refunded[0]?.data.amount.value]);
    // The messages may be taken up in either order. After 2,500 the 3,000 cannot have been paid and
    // preflight refuses it; after 3,000 the refunded total could include a refund of 2,500, so that
    // one goes to Dojo with its key and Dojo refuses it. Either way no refund exists for it, and the
    // answer counts exactly the requests Dojo saw.
    const counters = await h.dojo.idempotency(keyOf(over));
    expect(counters.refundsCreated).toBe(0);
    expect(counters.requests).toBe(over.data.amount.value === 3000 ? 0 : 1);
    expect(data?.attempts).toBe(counters.requests);
  });

  it("refuses an uncaptured payment, a currency mismatch and an unknown payment intent with their codes", async () => {
    const authorized = await h.dojo.createIntent({
      amount: 5000,
      status: "Authorized",
      captureMode: "Manual",
    });
    const euro = await h.dojo.createIntent({ amount: 5000, status: "Captured", currencyCode: "EUR" });
    const notCaptured = returnApproved({ paymentIntentId: authorized, amount: 5000 });
    const wrongCurrency = returnApproved({ paymentIntentId: euro, amount: 100, currencyCode: "GBP" });
    const unknown = returnApproved({
      paymentIntentId: `pi_sandbox_missing_${randomUUID().slice(0, 8)}`,
      amount: 100,
    });
    const refused = [notCaptured, wrongCurrency, unknown];
    await h.send(refused.map((e) => structuredMessage(e)));

    await h.waitFor(() => refused.every((e) => failureOf(e.id) !== undefined), "three refund.failed");
    expect(failureOf(notCaptured.id)?.json?.data.code).toBe("payment_not_captured");
    expect(failureOf(wrongCurrency.id)?.json?.data.code).toBe("currency_mismatch");
    expect(failureOf(unknown.id)?.json?.data.code).toBe("payment_not_found");
    for (const e of refused) expect(h.outcomesOf(e.id)).toHaveLength(1);
    expect((await h.dojo.refundsOf(authorized)).refunds).toHaveLength(0);
    expect((await h.dojo.refundsOf(euro)).refunds).toHaveLength(0);
    for (const e of refused) expect((await h.dojo.idempotency(keyOf(e))).requests).toBe(0);
    await expect.poll(() => h.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });
  });

  it("answers amount_exceeds_refundable when Dojo refuses the refund because the payment changed after preflight", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 4000 });
    // The relay's refund request is held at Dojo for a while; meanwhile another refund of the same
    // payment (not the relay's) goes through, so the held one no longer fits.
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 1500, max: 1500 } } } });
    await h.send([structuredMessage(event)]);
    await expect
      .poll(async () => (await h.dojo.stats()).idempotencyKeysInFlight, { timeout: 10_000, interval: 20 })
      .toBe(1);
    await h.dojo.clearFaults();
    const other = await fetch(`${h.sim.url}/payment-intents/${encodeURIComponent(pi)}/refunds`, {
      method: "POST",
      headers: {
        authorization: `Basic ${SIM_KEY}`,
        version: DEFAULT_DOJO_API_VERSION,
        "content-type": "application/json",
        idempotencyKey: `elsewhere-${randomUUID()}`,
      },
      body: JSON.stringify({ amount: 3000, refundReason: "refunded elsewhere" }),
    });
    expect(other.status).toBe(200);

    await h.waitFor(() => h.outcomesOf(event.id).length === 1, "the refusal's answer");
    expect(failureOf(event.id)?.json?.data).toMatchObject({
      code: "amount_exceeds_refundable",
      amount: { value: 4000, currencyCode: "GBP" },
      idempotencyKey: keyOf(event),
      attempts: 1,
    });
    expect(String(failureOf(event.id)?.json?.data.message)).toContain("read again after Dojo refused");
    // Dojo saw the key once and refunded nothing for it; only the other refund exists.
    expect(await h.dojo.idempotency(keyOf(event))).toMatchObject({ requests: 1, refundsCreated: 0 });
    const refunds = await h.dojo.refundsOf(pi);
    expect(refunds.refunds.map((r) => r.amount)).toEqual([3000]);
    expect(h.deadLetters()).toHaveLength(0);
  });
});
