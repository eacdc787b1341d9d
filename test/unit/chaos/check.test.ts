// The chaos matrix's judge must see every kind of violation it claims to count, from the evidence
// alone: a judge that always says 0 would make the published table worthless.
import { describe, expect, it } from "vitest";
import { type Evidence, INVARIANTS, type IntentRecord, judge, keyOf } from "../../../bench/chaos/check.ts";
import type { Answer } from "../../../bench/chaos/transport.ts";
import type { DemoPlan } from "../../../src/demo/plan.ts";

const plan: DemoPlan = {
  intents: [
    { ref: "i1", amount: 1000, status: "Captured" },
    { ref: "i2", amount: 500, status: "Authorized" },
  ],
  messages: [
    { kind: "partial", eventId: "e1", intentRef: "i1", amount: 400, wave: 1 },
    { kind: "partial", eventId: "e2", intentRef: "i1", amount: 600, wave: 1 },
    { kind: "duplicate", eventId: "e1", intentRef: "i1", amount: 400, repeats: "e1", wave: 2 },
    { kind: "uncaptured", eventId: "e3", intentRef: "i2", amount: 100, wave: 1 },
    { kind: "invalid", eventId: "e4", wave: 1 },
    { kind: "unparseable", eventId: "unparseable-e5", wave: 1 },
  ],
};

const ok = (eventId: string, outcomeId: string, refundId: string, at = 1000): Answer => ({
  destination: "succeeded",
  eventId,
  outcomeId,
  code: undefined,
  refundId,
  publishedAt: at,
});
const failed = (eventId: string, outcomeId: string, code: string, at = 1000): Answer => ({
  destination: "failed",
  eventId,
  outcomeId,
  code,
  refundId: undefined,
  publishedAt: at,
});
const dead = (eventId: string, code: string | undefined, at = 1000): Answer => ({
  destination: "dead-letter",
  eventId,
  outcomeId: undefined,
  code,
  refundId: undefined,
  publishedAt: at,
});

const cleanAnswers: Answer[] = [
  ok("e1", "o1", "r1", 1000),
  ok("e2", "o2", "r2", 1100),
  ok("e1", "o1", "r1", 1200),
  failed("e3", "o3", "payment_not_captured", 1300),
  failed("e4", "o4", "invalid_event", 1400),
  dead("unparseable-e5", "unparseable", 4400),
];
const cleanIntents: IntentRecord[] = [
  {
    intentId: "pi1",
    captured: 1000,
    refundedAmount: 1000,
    refunds: [
      { refundId: "r1", amount: 400, idempotencyKey: keyOf("e1") },
      { refundId: "r2", amount: 600, idempotencyKey: keyOf("e2") },
    ],
  },
  { intentId: "pi2", captured: 0, refundedAmount: 0, refunds: [] },
];
const clean: Evidence = {
  plan,
  answers: cleanAnswers,
  intents: cleanIntents,
  invalidKeyRequests: new Map([[keyOf("e4"), 0]]),
  logLines: ['{"level":30,"msg":"refund sent"}'],
  secrets: ["sk_sandbox_secret_value"],
};

const violationsOf = (evidence: Evidence) => judge(evidence).violations;
const only = (name: (typeof INVARIANTS)[number], count: number) =>
  Object.fromEntries(INVARIANTS.map((n) => [n, n === name ? count : 0]));

describe("chaos judge", () => {
  it("finds nothing wrong in a clean run, and reports the answers and the longest pause", () => {
    const verdict = judge(clean);
    expect(verdict.violations).toEqual(only("paid twice", 0));
    expect(verdict.refundsAtDojo).toBe(2);
    expect(verdict.answers).toEqual({ succeeded: 3, failed: 2, deadLettered: 1 });
    expect(verdict.longestGapMs).toBe(3000);
  });

  it("counts a second refund for one key, and a refund no event asked for", () => {
    const intents: IntentRecord[] = [
      {
        ...(cleanIntents[0] as IntentRecord),
        refunds: [
          ...(cleanIntents[0] as IntentRecord).refunds,
          { refundId: "r3", amount: 400, idempotencyKey: keyOf("e1") },
          { refundId: "r4", amount: 1, idempotencyKey: "someone-else" },
        ],
      },
      cleanIntents[1] as IntentRecord,
    ];
    expect(violationsOf({ ...clean, intents })).toEqual(only("paid twice", 2));
  });

  it("counts a payment refunded over what was captured", () => {
    const intents = [{ ...(cleanIntents[0] as IntentRecord), refundedAmount: 1001 }, cleanIntents[1]];
    expect(violationsOf({ ...clean, intents: intents as IntentRecord[] })).toEqual(
      only("refunded over captured", 1),
    );
  });

  it("counts refund.failed for an event Dojo refunded (and it is an unexpected answer too)", () => {
    const answers = [...cleanAnswers, failed("e2", "o2", "dojo_rejected")];
    const v = violationsOf({ ...clean, answers });
    expect(v["failed but refunded"]).toBe(1);
    expect(v["several answers"]).toBe(1);
    expect(v["unexpected answer"]).toBe(1);
  });

  it("counts an event without an answer, and a dead letter without a reason as none", () => {
    expect(violationsOf({ ...clean, answers: cleanAnswers.filter((a) => a.eventId !== "e2") })).toEqual(
      only("unanswered", 1),
    );
    const noReason = cleanAnswers.map((a) =>
      a.eventId === "unparseable-e5" ? dead(a.eventId, undefined) : a,
    );
    expect(violationsOf({ ...clean, answers: noReason })).toEqual(only("unanswered", 1));
  });

  it("counts one event answered with two outcome ids", () => {
    const answers = [...cleanAnswers, ok("e1", "o1-again", "r1")];
    expect(violationsOf({ ...clean, answers })).toEqual(only("several answers", 1));
  });

  it("counts an invalid event whose key reached Dojo", () => {
    expect(violationsOf({ ...clean, invalidKeyRequests: new Map([[keyOf("e4"), 2]]) })).toEqual(
      only("invalid reached Dojo", 1),
    );
  });

  it("counts every log line holding a configured secret", () => {
    const logLines = ["fine", 'authorization: "sk_sandbox_secret_value"', "x sk_sandbox_secret_value y"];
    expect(violationsOf({ ...clean, logLines })).toEqual(only("secret in logs", 2));
  });

  it("counts an answer other than the one the message's kind calls for", () => {
    const answers = cleanAnswers.map((a) => (a.eventId === "e3" ? failed("e3", "o3", "dojo_rejected") : a));
    expect(violationsOf({ ...clean, answers })).toEqual(only("unexpected answer", 1));
  });
});
