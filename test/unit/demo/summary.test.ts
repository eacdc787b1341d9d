import { describe, expect, it } from "vitest";
import { idempotencyKeyFor } from "../../../schemas/identity.ts";
import { DEMO_EVENT_SOURCE } from "../../../src/demo/messages.ts";
import type { DemoPlan } from "../../../src/demo/plan.ts";
import { type DemoFacts, type ReadAnswer, renderSummary, summarize } from "../../../src/demo/summary.ts";

// A small run: two partial refunds of one payment (one of them delivered twice), one over-refund, one
// unparseable message; the answers and the simulator's records as a correct relay leaves them.
const plan: DemoPlan = {
  intents: [
    { ref: "a", amount: 1000, status: "Captured" },
    { ref: "b", amount: 500, status: "Captured" },
  ],
  messages: [
    { kind: "partial", eventId: "e1", intentRef: "a", amount: 600, wave: 1 },
    { kind: "partial", eventId: "e2", intentRef: "a", amount: 400, wave: 1 },
    { kind: "over_refund", eventId: "e3", intentRef: "b", amount: 900, wave: 1 },
    { kind: "unparseable", eventId: "unparseable-1", wave: 1 },
    { kind: "duplicate", eventId: "e1", repeats: "e1", intentRef: "a", amount: 600, wave: 2 },
  ],
};
const key = (id: string) => idempotencyKeyFor({ source: DEMO_EVENT_SOURCE, id });
const ok = (eventId: string, refundId: string): ReadAnswer => ({
  destination: "succeeded",
  eventId,
  outcomeId: `o-${eventId}`,
  code: undefined,
  refundId,
});
const goodFacts: DemoFacts = {
  plan,
  intentIds: new Map([
    ["a", "pi_a"],
    ["b", "pi_b"],
  ]),
  answers: [
    ok("e1", "r1"),
    ok("e2", "r2"),
    {
      destination: "failed",
      eventId: "e3",
      outcomeId: "o-e3",
      code: "amount_exceeds_refundable",
      refundId: undefined,
    },
    {
      destination: "dead-letter",
      eventId: "unparseable-1",
      outcomeId: undefined,
      code: "unparseable",
      refundId: undefined,
    },
    ok("e1", "r1"),
  ],
  intents: [
    {
      intentId: "pi_a",
      captured: 1000,
      refundedAmount: 1000,
      refunds: [
        { refundId: "r1", amount: 600, idempotencyKey: key("e1") },
        { refundId: "r2", amount: 400, idempotencyKey: key("e2") },
      ],
    },
    { intentId: "pi_b", captured: 500, refundedAmount: 0, refunds: [] },
  ],
  faults: { ok: 10, "503": 2 },
  dojoRequestsDuringRedelivery: 0,
  seconds: 1.5,
  timedOut: false,
};
const failing = (facts: DemoFacts) =>
  summarize(facts)
    .invariants.filter((i) => !i.held)
    .map((i) => i.name);

describe("demo summary", () => {
  it("holds every invariant for a correct run and counts what moved", () => {
    const s = summarize(goodFacts);
    expect(failing(goodFacts)).toEqual([]);
    expect(s.allHeld).toBe(true);
    expect(s).toMatchObject({
      refundsAtSimulator: 2,
      refundedMinor: 1000,
      duplicatesSent: 1,
      redeliveriesSent: 1,
    });
    expect(s.outcomes).toContainEqual({ outcome: "refund.succeeded", code: "-", count: 3 });
    const text = renderSummary(s, "header", false);
    expect(text).toContain("GBP 10.00");
    expect(text).toContain("every invariant held");
  });

  it("catches a second refund for one return", () => {
    const facts: DemoFacts = {
      ...goodFacts,
      answers: [...goodFacts.answers.slice(0, 4), ok("e1", "r9")],
      intents: [
        {
          ...(goodFacts.intents[0] as DemoFacts["intents"][number]),
          refunds: [
            ...(goodFacts.intents[0]?.refunds ?? []),
            { refundId: "r9", amount: 600, idempotencyKey: "other" },
          ],
        },
        goodFacts.intents[1] as DemoFacts["intents"][number],
      ],
    };
    expect(failing(facts)).toContain("one refund per return");
    expect(summarize(facts).allHeld).toBe(false);
  });

  it("catches a refund at Dojo that no answer names", () => {
    const facts: DemoFacts = {
      ...goodFacts,
      intents: [
        goodFacts.intents[0] as DemoFacts["intents"][number],
        {
          intentId: "pi_b",
          captured: 500,
          refundedAmount: 100,
          refunds: [{ refundId: "rx", amount: 100, idempotencyKey: "k" }],
        },
      ],
    };
    expect(failing(facts)).toEqual(["one refund per return"]);
  });

  it("catches a payment refunded over what was captured", () => {
    const facts: DemoFacts = {
      ...goodFacts,
      intents: [
        { ...(goodFacts.intents[0] as DemoFacts["intents"][number]), captured: 900 },
        goodFacts.intents[1] as DemoFacts["intents"][number],
      ],
    };
    expect(failing(facts)).toEqual(["nothing refunded over captured"]);
  });

  it("catches an unanswered message, and a run that timed out", () => {
    const facts: DemoFacts = {
      ...goodFacts,
      answers: goodFacts.answers.filter((a) => a.eventId !== "unparseable-1"),
    };
    expect(failing(facts)).toEqual(["every event answered"]);
    expect(failing({ ...goodFacts, timedOut: true })).toEqual(["every event answered"]);
  });

  it("catches a wrong answer, and a duplicate answered with another outcome id", () => {
    const wrongCode: DemoFacts = {
      ...goodFacts,
      answers: goodFacts.answers.map((a) => (a.eventId === "e3" ? { ...a, code: "dojo_rejected" } : a)),
    };
    expect(failing(wrongCode)).toEqual(["each answer as expected"]);
    const otherId: DemoFacts = {
      ...goodFacts,
      answers: [...goodFacts.answers.slice(0, 4), { ...ok("e1", "r1"), outcomeId: "o-other" }],
    };
    expect(failing(otherId)).toEqual(["each answer as expected"]);
  });

  it("catches refund.failed for a refund Dojo made", () => {
    const facts: DemoFacts = {
      ...goodFacts,
      answers: [
        ...goodFacts.answers.slice(0, 4),
        {
          destination: "failed",
          eventId: "e2",
          outcomeId: "o-e2",
          code: "dojo_rejected",
          refundId: undefined,
        },
      ],
    };
    expect(failing(facts)).toContain("no failure reported for a refund that happened");
  });

  it("catches a redelivery that reached Dojo", () => {
    expect(failing({ ...goodFacts, dojoRequestsDuringRedelivery: 1 })).toEqual([
      "redeliveries answered from the ledger",
    ]);
  });
});
