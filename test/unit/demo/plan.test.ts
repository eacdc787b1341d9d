import { describe, expect, it } from "vitest";
import { renderMessage } from "../../../src/demo/messages.ts";
import { type PlannedMessage, planDemo } from "../../../src/demo/plan.ts";

const kinds = (messages: readonly PlannedMessage[]) => {
  const counts: Record<string, number> = {};
  for (const m of messages) counts[m.kind] = (counts[m.kind] ?? 0) + 1;
  return counts;
};

describe("demo plan", () => {
  it("gives the same plan for the same seed, event ids included, and another for another seed", () => {
    expect(planDemo(200, 42)).toEqual(planDemo(200, 42));
    expect(planDemo(200, 43).messages.map((m) => m.eventId)).not.toEqual(
      planDemo(200, 42).messages.map((m) => m.eventId),
    );
  });

  it("plans exactly the number of messages asked for, with every kind in the mix", () => {
    for (const events of [20, 200, 1234]) {
      const plan = planDemo(events, 1);
      expect(plan.messages).toHaveLength(events);
      expect(Object.keys(kinds(plan.messages)).sort()).toEqual(
        ["duplicate", "full", "invalid", "over_refund", "partial", "uncaptured", "unparseable"].sort(),
      );
    }
    expect(() => planDemo(19, 1)).toThrow(/at least 20/);
  });

  it("never asks for more than a payment captured, except in the over-refunds", () => {
    const plan = planDemo(2000, 9);
    const captured = new Map(plan.intents.map((i) => [i.ref, i.amount]));
    const asked = new Map<string, number>();
    for (const m of plan.messages) {
      if (m.kind !== "full" && m.kind !== "partial") continue;
      expect(m.amount).toBeGreaterThan(0);
      asked.set(m.intentRef as string, (asked.get(m.intentRef as string) ?? 0) + (m.amount as number));
    }
    for (const [ref, total] of asked) expect(total).toBeLessThanOrEqual(captured.get(ref) as number);
    for (const m of plan.messages.filter((x) => x.kind === "over_refund")) {
      expect(m.amount).toBeGreaterThan(captured.get(m.intentRef as string) as number);
    }
  });

  it("keeps a payment's partial refunds in the order planned, and puts each duplicate after its original", () => {
    const plan = planDemo(500, 5);
    const position = new Map<string, number>();
    plan.messages.forEach((m, i) => {
      if (m.kind !== "duplicate") position.set(m.eventId, i);
    });
    plan.messages.forEach((m, i) => {
      if (m.kind === "duplicate") expect(position.get(m.repeats as string)).toBeLessThan(i);
    });
    const secondWave = plan.messages.filter((m) => m.wave === 2);
    expect(secondWave.length).toBeGreaterThan(0);
    expect(secondWave.every((m) => m.kind === "duplicate")).toBe(true);
    // The second wave comes last.
    expect(plan.messages.slice(-secondWave.length)).toEqual(secondWave);
  });

  it("renders a duplicate byte for byte as its original, and unparseable messages as no JSON", () => {
    const plan = planDemo(200, 3);
    const time = "2026-12-01T10:00:00.000Z";
    const duplicate = plan.messages.find((m) => m.kind === "duplicate") as PlannedMessage;
    const original = plan.messages.find((m) => m.eventId === duplicate.repeats && m.kind !== "duplicate");
    expect(renderMessage(duplicate, "pi_1", 0, time).body).toBe(
      renderMessage(original as PlannedMessage, "pi_1", 0, time).body,
    );
    const unparseable = plan.messages.find((m) => m.kind === "unparseable") as PlannedMessage;
    for (let i = 0; i < 3; i++) {
      const body = renderMessage(unparseable, undefined, i, time).body;
      expect(() => JSON.parse(body)).toThrow();
      expect(body).toContain(unparseable.eventId);
    }
  });
});
