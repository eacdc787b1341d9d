// `refund-relay replay` over real Kafka, with a relay running and the Dojo simulator. The tests run in
// order on one set of topics: each builds on the dead letters the one before left behind.
//   1. an event parked after Dojo stayed down (retry budget), then an unparseable message: a dry run
//      says what it would do and changes nothing;
//   2. --apply replays the parked event (refunded once, the group's offset committed past it) and
//      leaves the unparseable one where it is, with its reason, for every later run;
//   3. a dead letter of an event that was refunded meanwhile is skipped, and with --force only gets its
//      stored outcome re-published: no second refund at Dojo.
import { PassThrough } from "node:stream";
import { type Admin, Kafka, logLevel, type Producer } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import { replayCommand } from "../../../src/cli/replay.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;
let admin: Admin;
let producer: Producer;
const group = () => `${h.groupId}-replay`;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 1 }).setUp();
  await h.startRelay({ RETRY_MAX_ATTEMPTS: "3", RETRY_MAX_AGE_MS: "20000" });
  const kafka = new Kafka({
    clientId: "replay-test",
    brokers: [...kafkaBrokers],
    logLevel: logLevel.NOTHING,
  });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});
afterAll(async () => {
  await Promise.allSettled([admin?.disconnect(), producer?.disconnect()]);
  await h?.tearDown();
});
afterEach(() => vi.unstubAllEnvs());

interface Line {
  decision: string;
  eventId: string | null;
  code: string | null;
  at: string;
  reason: string;
}

/** Runs the command in this process with the relay's environment; the lines as JSON. */
async function replay(...args: string[]) {
  for (const [name, value] of Object.entries(h.env())) vi.stubEnv(name, value);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c: Buffer) => (out += c.toString()));
  stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await replayCommand.run([...args, "--json"], { stdin: new PassThrough(), stdout, stderr });
  const lines = out
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);
  return { code, lines, err };
}

async function committed(): Promise<string | undefined> {
  const [topic] = await admin.fetchOffsets({ groupId: group(), topics: [h.topics.dlq] });
  return topic?.partitions.find((p) => p.partition === 0)?.offset;
}

async function endOf(topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(p.high), 0);
}

const deadLetterOf = (eventId: string) => h.deadLetters().filter((d) => d.headers["rr-event-id"] === eventId);

describe("refund-relay replay over Kafka", () => {
  let stuckIntent: string;
  const stuck = { event: undefined as unknown as ReturnType<typeof returnApproved> };

  it("reads dead letters in a dry run and changes nothing", async () => {
    stuckIntent = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    stuck.event = returnApproved({ paymentIntentId: stuckIntent, amount: 1500 });
    await h.dojo.setFaults({ routes: { createRefund: { error503Rate: 1 } } });
    await h.produce([structuredRecord(stuck.event)]);
    await h.waitFor(() => deadLetterOf(stuck.event.id).length === 1, "the event parked by the retry budget");
    await h.dojo.clearFaults();
    expect(deadLetterOf(stuck.event.id)[0]?.headers["rr-error-code"]).toBe("retry_budget_exhausted");
    await h.produce([{ key: "k", value: "this is not json {", headers: { origin: "shop-9" } }]);
    await h.waitFor(() => h.deadLetters().length === 2, "the unparseable message's dead letter");

    const inputBefore = await endOf(h.topics.input);
    const r = await replay("--dry-run");
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      {
        decision: "would-replay",
        eventId: stuck.event.id,
        source: stuck.event.source,
        code: "retry_budget_exhausted",
        at: "partition 0 offset 0",
        reason: expect.stringMatching(
          /^open in the ledger \(state unknown, attempts \d+, parked retry_budget_exhausted\): the relay resumes it with the same idempotency key$/,
        ),
      },
      {
        decision: "skipped",
        eventId: null,
        source: null,
        code: "unparseable",
        at: "partition 0 offset 1",
        reason: expect.stringMatching(/^still unparseable: /),
      },
    ]);
    expect(r.err).toMatch(
      /dry run: 2 dead letters looked at: 1 would be replayed, 1 would stay; nothing was sent/,
    );
    // Nothing sent, nothing committed, nothing refunded.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await endOf(h.topics.input)).toBe(inputBefore);
    expect(Number(await committed())).toBeLessThan(0);
    expect(h.outcomesOf(stuck.event.id)).toHaveLength(0);
    expect((await h.dojo.refundsOf(stuckIntent)).refunds).toHaveLength(0);
  });

  it("replays the parked event once, commits past it, and leaves the unparseable one with its reason", async () => {
    const r = await replay("--apply", "--rate", "20");
    expect(r.code).toBe(0);
    expect(r.lines.map((l) => [l.decision, l.eventId, l.code])).toEqual([
      ["replayed", stuck.event.id, "retry_budget_exhausted"],
      ["skipped", null, "unparseable"],
    ]);
    await h.waitFor(() => h.outcomesOf(stuck.event.id).length === 1, "the replayed event's outcome");
    expect(h.outcomesOf(stuck.event.id)[0]?.json).toMatchObject({
      type: "refund.succeeded",
      data: { amount: { value: 1500 }, idempotencyKey: idempotencyKeyFor(stuck.event) },
    });
    const refunds = await h.dojo.refundsOf(stuckIntent);
    expect(refunds.refunds).toHaveLength(1);
    expect(refunds.refundedAmount).toBe(1500);
    // Committed past the replayed dead letter, not past the one that stayed.
    expect(await committed()).toBe("1");

    // The next run finds only what stayed, and it stays again.
    const again = await replay("--apply");
    expect(again.code).toBe(0);
    expect(again.lines).toMatchObject([
      {
        decision: "skipped",
        code: "unparseable",
        at: "partition 0 offset 1",
        reason: expect.stringMatching(/^still unparseable/),
      },
    ]);
    expect(await committed()).toBe("1");
    expect((await h.dojo.refundsOf(stuckIntent)).refunds).toHaveLength(1);
  });

  it("skips a dead letter whose event is settled, and with --force gets no second refund", async () => {
    const pi = await h.dojo.createIntent({ amount: 4000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 800 });
    await h.produce([structuredRecord(event)]);
    await h.waitFor(() => h.outcomesOf(event.id).length === 1, "the refund");
    const first = h.outcomesOf(event.id)[0];
    expect(first?.json?.type).toBe("refund.succeeded");
    // A dead letter of the same event in the relay's format, as one parked before the refund was known.
    const record = structuredRecord(event);
    await producer.send({
      topic: h.topics.dlq,
      messages: [
        {
          key: record.key,
          value: record.value,
          headers: {
            ...record.headers,
            "rr-error-code": "internal_error",
            "rr-error-message": "processing failed repeatedly",
            "rr-attempts": "1",
            "rr-event-id": event.id,
            "rr-event-source": event.source,
          },
        },
      ],
    });

    const skipped = await replay("--apply", "--code", "internal_error");
    expect(skipped.code).toBe(0);
    expect(skipped.lines).toEqual([
      expect.objectContaining({
        decision: "skipped",
        code: "unparseable",
        reason: "code unparseable not selected by --code",
      }),
      expect.objectContaining({
        decision: "skipped",
        eventId: event.id,
        code: "internal_error",
        reason: expect.stringMatching(
          /^already settled \(state (succeeded|published), refund\.succeeded, refund rfnd_\w+.*the relay would only re-publish/,
        ),
      }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.outcomesOf(event.id)).toHaveLength(1);

    const forced = await replay("--apply", "--force", "--code", "internal_error");
    expect(forced.code).toBe(0);
    expect(forced.lines[1]).toMatchObject({
      decision: "replayed",
      eventId: event.id,
      reason: expect.stringMatching(/^forced: already settled/),
    });
    await h.waitFor(() => h.outcomesOf(event.id).length === 2, "the re-published outcome");
    // The stored outcome again (same id, same refund); one refund, and one refund request, at Dojo.
    const again = h.outcomesOf(event.id)[1]?.json;
    expect(again?.id).toBe(first?.json?.id);
    expect(again?.data.refundId).toBe(first?.json?.data.refundId);
    expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(1);
    const requests = await h.dojo.requests({
      idempotencyKey: idempotencyKeyFor(event),
      route: "createRefund",
    });
    expect(requests).toHaveLength(1);
  });
});
