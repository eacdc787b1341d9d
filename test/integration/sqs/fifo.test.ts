// FIFO input: messages of one group run one at a time in order, even across payment intents (the
// pipeline only orders by payment intent). FIFO outcome queues: grouped by payment intent, and a
// re-published outcome is dropped by SQS's de-duplication.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { returnApproved } from "../../support/events.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import { SqsHarness, sourceEventIdOf, structuredMessage } from "../../support/sqs-harness.ts";

const servers = await sqsServers();

describe.each(servers)("relay over SQS ($name): FIFO queues", ({ endpoint }) => {
  let h: SqsHarness;

  beforeAll(async () => {
    h = await new SqsHarness({ endpoint, fifo: true }).setUp();
    await h.startRelay();
  });
  afterAll(async () => {
    await h?.tearDown();
  });

  it("settles each group's messages in the order they were sent", async () => {
    const groups = ["order-A", "order-B", "order-C"];
    const perGroup = 4;
    const intents = await h.dojo.createIntents(
      { amount: 5000, status: "Captured" },
      groups.length * perGroup,
    );
    // Random Dojo latency: without group order, later messages of a group would often finish first.
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 20, max: 400 } } } });
    const sent = new Map<string, string[]>(groups.map((g) => [g, []]));
    const messages = [];
    for (let i = 0; i < perGroup; i++) {
      for (const [g, group] of groups.entries()) {
        const event = returnApproved({ paymentIntentId: intents[g * perGroup + i] as string, amount: 1000 });
        sent.get(group)?.push(event.id);
        messages.push(structuredMessage(event, group));
      }
    }
    await h.send(messages);

    const total = groups.length * perGroup;
    await h.waitFor(() => h.outcomes("refund.succeeded").length === total, "an outcome per event", 30_000);
    const processedAt = new Map(
      h.outcomes().map((o) => [sourceEventIdOf(o), Date.parse(String(o.json?.data.processedAt))]),
    );
    for (const group of groups) {
      const times = (sent.get(group) ?? []).map((id) => processedAt.get(id) ?? Number.NaN);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    // Outcomes are grouped by payment intent on the FIFO outcome queue.
    for (const o of h.outcomes()) expect(o.groupId).toBe(o.json?.subject);
    await expect.poll(() => h.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });
    await h.dojo.clearFaults();
  });

  it("keeps each group's order when Dojo fails some calls: a failing message holds the rest of its group", async () => {
    const groups = ["order-D", "order-E"];
    const perGroup = 5;
    const intents = await h.dojo.createIntents(
      { amount: 5000, status: "Captured" },
      groups.length * perGroup,
    );
    // The first refund calls fail (one group's head message is retried with backoff while the other
    // group goes on), then a third of the rest fail at random.
    await h.dojo.setFaults({
      seed: 7,
      routes: {
        createRefund: {
          script: ["503", "500", "503", "429"],
          retryAfterSeconds: 0,
          error503Rate: 0.3,
          latencyMs: { min: 5, max: 60 },
        },
      },
    });
    const before = h.outcomes().length;
    const sent = new Map<string, string[]>(groups.map((g) => [g, []]));
    const messages = [];
    for (let i = 0; i < perGroup; i++) {
      for (const [g, group] of groups.entries()) {
        const event = returnApproved({ paymentIntentId: intents[g * perGroup + i] as string, amount: 900 });
        sent.get(group)?.push(event.id);
        messages.push(structuredMessage(event, group));
      }
    }
    await h.send(messages);
    const total = groups.length * perGroup;
    await h.waitFor(() => h.outcomes().length - before === total, "an outcome per event", 45_000);
    const stats = await h.dojo.stats();
    expect(
      Object.entries(stats.faultsInjected)
        .filter(([k]) => k !== "ok")
        .reduce((n, [, v]) => n + v, 0),
    ).toBeGreaterThanOrEqual(4);
    const outcomes = h.outcomes().slice(before);
    expect(outcomes.every((o) => o.json?.type === "refund.succeeded")).toBe(true);
    const processedAt = new Map(
      outcomes.map((o) => [sourceEventIdOf(o), Date.parse(String(o.json?.data.processedAt))]),
    );
    for (const group of groups) {
      const times = (sent.get(group) ?? []).map((id) => processedAt.get(id) ?? Number.NaN);
      expect(times.some(Number.isNaN)).toBe(false);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    // One refund per event despite the failures.
    for (const pi of intents) expect((await h.dojo.refundsOf(pi as string)).refunds).toHaveLength(1);
    await h.dojo.clearFaults();
  });

  it("sends a re-published outcome with the outcome's id as de-duplication id: SQS keeps one", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 700 });
    // The same event twice (two messages: distinct de-duplication ids on the input queue).
    await h.send([structuredMessage(event), structuredMessage(event)]);

    await h.waitFor(() => h.outcomesOf(event.id).length === 1, "the outcome");
    await expect.poll(() => h.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });
    // Both messages were answered (deleted); the second answer was dropped as a duplicate by SQS.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(h.outcomesOf(event.id)).toHaveLength(1);
    expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(1);
  });
});
