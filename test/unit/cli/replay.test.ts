// `refund-relay replay` without brokers: the decision on one dead letter (validation, then the ledger),
// reading the originals out of Kafka and SQS dead letters, and the command line. Over real Kafka and
// ElasticMQ with a running relay: test/integration/cli/replay-*.test.ts.
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { deadLetterOf } from "../../../consumers/sqs/dead-letter.ts";
import { main } from "../../../src/cli/main.ts";
import { replayCommand } from "../../../src/cli/replay.ts";
import { decide } from "../../../src/cli/replay-decide.ts";
import { kafkaDeadLetter, originalHeaders } from "../../../src/cli/replay-kafka.ts";
import { sqsDeadLetter, sqsOriginal } from "../../../src/cli/replay-sqs.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { requestHash } from "../../../src/pipeline/request-hash.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";

const T0 = new Date("2026-11-26T10:00:00Z");

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr }, text };
}

describe("replay: the decision on one dead letter", () => {
  const open: SqliteLedger[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.close()));
  });

  async function ledgerWith(event: ReturnType<typeof returnApproved>, hash = requestHash(event.data)) {
    const ledger = new SqliteLedger({ path: ":memory:" });
    open.push(ledger);
    const ref = { source: event.source, eventId: event.id };
    await ledger.begin(
      {
        ...ref,
        idempotencyKey: `rr-${event.id}`,
        requestHash: hash,
        paymentIntentId: event.data.paymentIntentId,
        merchantId: null,
        amount: event.data.amount.value,
        currencyCode: "GBP",
      },
      T0,
    );
    return { ledger, ref };
  }
  const asKafka = (event: unknown) => ({
    body: JSON.stringify(event),
    headers: { "content-type": "application/cloudevents+json" },
    transport: "kafka" as const,
  });
  const check = (ledger: SqliteLedger, force = false) => ({ ledger, maxBytes: 262_144, force });

  it("keeps an unparseable message and one that still fails validation, saying why", async () => {
    const ledger = new SqliteLedger({ path: ":memory:" });
    open.push(ledger);
    const garbage = await decide({ body: "not json {", transport: "sqs" }, check(ledger));
    expect(garbage).toMatchObject({ action: "skip", reason: expect.stringMatching(/^still unparseable: /) });
    const event = returnApproved({ paymentIntentId: "pi_1", amount: 100 });
    const invalid = { ...event, data: { ...event.data, amount: { value: -5, currencyCode: "GBP" } } };
    const decided = await decide(asKafka(invalid), check(ledger));
    expect(decided).toMatchObject({
      action: "skip",
      eventId: event.id,
      reason: expect.stringMatching(/^still fails validation \(data\): .*amount/),
    });
    // --force never sends what the relay cannot read.
    expect((await decide(asKafka(invalid), check(ledger, true))).action).toBe("skip");
    // Too large for the relay's MAX_MESSAGE_BYTES.
    const valid = returnApproved({ paymentIntentId: "pi_1", amount: 100 });
    const tooBig = await decide(asKafka(valid), { ledger, maxBytes: 64, force: false });
    expect(tooBig.action).toBe("skip");
  });

  it("replays an event the ledger does not know, and an open one (resumed with its key)", async () => {
    const fresh = returnApproved({ paymentIntentId: "pi_1", amount: 100 });
    const empty = new SqliteLedger({ path: ":memory:" });
    open.push(empty);
    expect(await decide(asKafka(fresh), check(empty))).toEqual({
      action: "replay",
      eventId: fresh.id,
      source: fresh.source,
      reason: "not in the ledger: the relay processes it as a new event",
    });
    const parked = returnApproved({ paymentIntentId: "pi_2", amount: 100 });
    const { ledger, ref } = await ledgerWith(parked);
    await ledger.markSubmitting(ref, "refund", { state: "received", attempts: 0 }, T0);
    await ledger.markUnknown(ref, "timeout", { state: "submitting", attempts: 1 }, T0);
    await ledger.markParked(ref, "retry_budget_exhausted", "gave up", T0);
    expect(await decide(asKafka(parked), check(ledger))).toMatchObject({
      action: "replay",
      reason:
        "open in the ledger (state unknown, attempts 1, parked retry_budget_exhausted): the relay resumes it with the same idempotency key",
    });
  });

  it("keeps a settled event (the relay would only re-publish), unless forced", async () => {
    const event = returnApproved({ paymentIntentId: "pi_3", amount: 100 });
    const { ledger, ref } = await ledgerWith(event);
    await ledger.settle(
      ref,
      { state: "succeeded", outcome: { type: "refund.succeeded", id: "out-1" }, refundId: "rfnd_1" },
      T0,
    );
    await ledger.markPublished(ref, T0);
    const kept = await decide(asKafka(event), check(ledger));
    expect(kept).toMatchObject({ action: "skip", eventId: event.id, source: event.source });
    expect(kept.reason).toMatch(
      /^already settled \(state published, refund\.succeeded, refund rfnd_1, outcome id out-1, .*\): the relay would only re-publish the stored outcome, without calling Dojo; --force to send it anyway$/,
    );
    const forced = await decide(asKafka(event), check(ledger, true));
    expect(forced).toMatchObject({
      action: "replay",
      reason: expect.stringMatching(/^forced: already settled/),
    });
  });

  it("keeps an event whose content differs from what the ledger recorded under its id", async () => {
    const event = returnApproved({ paymentIntentId: "pi_4", amount: 100 });
    const { ledger } = await ledgerWith(event, "another-hash");
    const kept = await decide(asKafka(event), check(ledger));
    expect(kept).toMatchObject({ action: "skip", reason: expect.stringContaining("idempotency conflict") });
    expect((await decide(asKafka(event), check(ledger, true))).action).toBe("replay");
  });
});

describe("replay: reading dead letters", () => {
  const event = returnApproved({ paymentIntentId: "pi_9", amount: 250 });

  it("takes a Kafka dead letter's value, key and headers without the relay's rr-* headers", () => {
    const record = structuredRecord(event);
    const headers = {
      ...record.headers,
      traceparent: Buffer.from("00-abc-def-01"),
      "rr-error-code": Buffer.from("internal_error"),
      "rr-error-message": Buffer.from("boom"),
      "rr-event-id": Buffer.from(event.id),
      "rr-original-offset": Buffer.from("7"),
    };
    expect(Object.keys(originalHeaders(headers)).sort()).toEqual(["content-type", "traceparent"]);
    const letter = kafkaDeadLetter(2, {
      key: Buffer.from("pi_9"),
      value: Buffer.from(record.value),
      headers,
      offset: "41",
      timestamp: "0",
      attributes: 0,
    });
    expect(letter).toMatchObject({
      at: "partition 2 offset 41",
      code: "internal_error",
      eventId: event.id,
      original: {
        transport: "kafka",
        headers: { "content-type": "application/cloudevents+json", traceparent: "00-abc-def-01" },
      },
    });
  });

  it("takes an SQS dead letter's original body and attributes out of the relay's envelope", () => {
    const dead = deadLetterOf(
      {
        body: JSON.stringify(event),
        headers: { "content-type": "application/cloudevents+json", origin: "shop" },
        transport: "sqs",
      },
      {
        code: "internal_error",
        message: "boom",
        attempts: 0,
        firstSeenAt: T0,
        eventId: event.id,
        source: event.source,
      },
    );
    const { letter, original } = sqsDeadLetter({
      MessageId: "m-1",
      Body: dead.body,
      MessageAttributes: dead.attributes,
    });
    expect(letter).toMatchObject({ at: "message m-1", code: "internal_error", eventId: event.id });
    expect(original).toEqual({
      body: JSON.stringify(event),
      attributes: { "content-type": "application/cloudevents+json", origin: "shop" },
      groupId: undefined,
    });
  });

  it("refuses what is not the relay's envelope, and a body cut to fit", () => {
    expect(sqsOriginal("plain text")).toEqual({
      broken: expect.stringContaining("not a refund-relay dead letter"),
    });
    expect(sqsOriginal(JSON.stringify(event))).toEqual({
      broken: expect.stringContaining("not a refund-relay dead letter"),
    });
    const big = { ...event, data: { ...event.data, metadata: { pad: "x".repeat(2000) } } };
    const cut = deadLetterOf(
      { body: JSON.stringify(big), transport: "sqs" },
      { code: "internal_error", message: "boom", attempts: 0, firstSeenAt: T0 },
      1500,
    );
    expect(cut.truncated).toBe(true);
    expect(sqsOriginal(cut.body)).toEqual({ broken: expect.stringContaining("cut to fit") });
  });
});

describe("refund-relay replay: the command line", () => {
  afterEach(() => vi.unstubAllEnvs());

  async function replay(...args: string[]) {
    const { io, text } = capture();
    const code = await replayCommand.run(args, io);
    return { code, ...text };
  }

  it("prints its help with the options, the environment and the exit codes", async () => {
    const r = await replay("--help");
    expect(r.code).toBe(0);
    for (const text of [
      "--dry-run",
      "--apply",
      "--force",
      "--code",
      "--max",
      "--rate",
      "KAFKA_DLQ_TOPIC",
      "SQS_DLQ_URL",
      "exit status: 0 done",
    ]) {
      expect(r.out).toContain(text);
    }
    const viaMain = capture();
    expect(await main(["replay", "--help"], viaMain.io)).toBe(0);
    expect(viaMain.text.out).toContain("usage: refund-relay replay");
  });

  it("exits 2 on usage and configuration errors, before touching a broker", async () => {
    for (const args of [
      ["--apply", "--dry-run"],
      ["--code", "bogus"],
      ["--rate", "0"],
      ["--max", "-1"],
      ["--max", "1.5"],
      ["extra"],
      ["--frobnicate"],
    ]) {
      const r = await replay(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(/^refund-relay replay: /);
    }
    vi.stubEnv("RELAY_SOURCE", "sqs");
    vi.stubEnv("SQS_INPUT_QUEUE_URL", "");
    const config = await replay("--dry-run");
    expect(config.code).toBe(2);
    expect(config.err).toContain("SQS_INPUT_QUEUE_URL");
  });
});
