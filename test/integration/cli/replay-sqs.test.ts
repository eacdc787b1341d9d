// `refund-relay replay` over ElasticMQ, with a relay running and the Dojo simulator. The relay's
// dead-letter queue is one of this file's own: the harness's collector would delete the dead letters of
// its own queue as they arrive. The tests run in order on one set of queues:
//   1. an unparseable message dead-lettered by the relay, and a valid event's dead letter in the relay's
//      format (as parked for a transient reason): a dry run says what it would do and changes nothing;
//   2. --apply replays the event (refunded once, its dead letter deleted) and leaves the unparseable
//      one, visible again, with its reason;
//   3. a dead letter of an event that was refunded meanwhile is skipped, and with --force only gets its
//      stored outcome re-published: no second refund at Dojo.
import { PassThrough } from "node:stream";
import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { deadLetterOf } from "../../../consumers/sqs/dead-letter.ts";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import { replayCommand } from "../../../src/cli/replay.ts";
import { returnApproved } from "../../support/events.ts";
import { SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";

const { sqsEndpoint } = inject("servers");
let h: SqsHarness;
/** The relay's dead-letter queue in this file (not collected by the harness). */
let dlq: string;

beforeAll(async () => {
  h = await new SqsHarness({ endpoint: sqsEndpoint }).setUp();
  dlq = (await h.sqs.send(new CreateQueueCommand({ QueueName: `rdr-${h.id}` }))).QueueUrl as string;
  await h.startRelay({ SQS_DLQ_URL: dlq });
});
afterAll(async () => {
  if (dlq !== undefined) await h?.sqs.send(new DeleteQueueCommand({ QueueUrl: dlq })).catch(() => undefined);
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

async function replay(...args: string[]) {
  for (const [name, value] of Object.entries(h.env({ SQS_DLQ_URL: dlq }))) vi.stubEnv(name, value);
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

/** Puts a dead letter of `event` on the dead-letter queue in the relay's envelope, as the relay parks one. */
async function parkDirectly(
  event: ReturnType<typeof returnApproved>,
  code: "internal_error" | "unknown_merchant",
) {
  const message = structuredMessage(event);
  const dead = deadLetterOf(
    { body: message.body, headers: message.attributes ?? {}, transport: "sqs" },
    {
      code,
      message: "processing failed repeatedly: the ledger was unreachable",
      attempts: 0,
      firstSeenAt: new Date(),
      eventId: event.id,
      source: event.source,
    },
  );
  await h.sqs.send(
    new SendMessageCommand({ QueueUrl: dlq, MessageBody: dead.body, MessageAttributes: dead.attributes }),
  );
}

const sorted = (lines: Line[]) => [...lines].sort((a, b) => (a.code ?? "").localeCompare(b.code ?? ""));

describe("refund-relay replay over SQS (ElasticMQ)", () => {
  let pi: string;
  const transient = { event: undefined as unknown as ReturnType<typeof returnApproved> };

  it("reads dead letters in a dry run and changes nothing", async () => {
    await h.send([{ body: "this is not json {", attributes: { origin: "shop-7" } }]);
    await expect.poll(() => h.depth(dlq), { timeout: 20_000 }).toEqual({ visible: 1, inFlight: 0 });
    pi = await h.dojo.createIntent({ amount: 6000, status: "Captured" });
    transient.event = returnApproved({ paymentIntentId: pi, amount: 2500 });
    await parkDirectly(transient.event, "internal_error");

    const r = await replay();
    expect(r.code).toBe(0);
    expect(sorted(r.lines)).toEqual([
      {
        decision: "would-replay",
        eventId: transient.event.id,
        source: transient.event.source,
        code: "internal_error",
        at: expect.stringMatching(/^message /),
        reason: "not in the ledger: the relay processes it as a new event",
      },
      {
        decision: "skipped",
        eventId: null,
        source: null,
        code: "unparseable",
        at: expect.stringMatching(/^message /),
        reason: expect.stringMatching(/^still unparseable: /),
      },
    ]);
    expect(r.err).toMatch(/dry run: 2 dead letters looked at: 1 would be replayed, 1 would stay/);
    // Both dead letters are still there and visible again at once; nothing reached the input or Dojo.
    expect(await h.depth(dlq)).toEqual({ visible: 2, inFlight: 0 });
    expect(await h.depth()).toEqual({ visible: 0, inFlight: 0 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.outcomesOf(transient.event.id)).toHaveLength(0);
    expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(0);
  });

  it("replays the event once, deletes its dead letter, and leaves the unparseable one with its reason", async () => {
    const r = await replay("--apply", "--max", "5");
    expect(r.code).toBe(0);
    expect(sorted(r.lines).map((l) => [l.decision, l.eventId, l.code])).toEqual([
      ["replayed", transient.event.id, "internal_error"],
      ["skipped", null, "unparseable"],
    ]);
    await h.waitFor(() => h.outcomesOf(transient.event.id).length === 1, "the replayed event's outcome");
    expect(h.outcomesOf(transient.event.id)[0]?.json).toMatchObject({
      type: "refund.succeeded",
      data: { amount: { value: 2500 }, idempotencyKey: idempotencyKeyFor(transient.event) },
    });
    expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(1);
    // The replayed dead letter is gone; the one that stayed is visible again.
    expect(await h.depth(dlq)).toEqual({ visible: 1, inFlight: 0 });

    const again = await replay("--apply");
    expect(again.code).toBe(0);
    expect(again.lines).toMatchObject([{ decision: "skipped", code: "unparseable" }]);
    expect(await h.depth(dlq)).toEqual({ visible: 1, inFlight: 0 });
    expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(1);
  });

  it("skips a dead letter whose event is settled, and with --force gets no second refund", async () => {
    const settledPi = await h.dojo.createIntent({ amount: 3000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: settledPi, amount: 900 });
    await h.send([structuredMessage(event)]);
    await h.waitFor(() => h.outcomesOf(event.id).length === 1, "the refund");
    const first = h.outcomesOf(event.id)[0]?.json;
    expect(first?.type).toBe("refund.succeeded");
    await parkDirectly(event, "unknown_merchant");

    const skipped = await replay("--apply");
    expect(skipped.code).toBe(0);
    // Sorted by code: unknown_merchant, then unparseable.
    expect(sorted(skipped.lines)).toEqual([
      expect.objectContaining({
        decision: "skipped",
        eventId: event.id,
        code: "unknown_merchant",
        reason: expect.stringMatching(
          /^already settled \(state (succeeded|published), refund\.succeeded, refund rfnd_\w+.*the relay would only re-publish/,
        ),
      }),
      expect.objectContaining({ decision: "skipped", code: "unparseable" }),
    ]);
    expect(await h.depth(dlq)).toEqual({ visible: 2, inFlight: 0 });

    const forced = await replay("--apply", "--force", "--code", "unknown_merchant");
    expect(forced.code).toBe(0);
    expect(sorted(forced.lines)).toEqual([
      expect.objectContaining({
        decision: "replayed",
        eventId: event.id,
        code: "unknown_merchant",
        reason: expect.stringMatching(/^forced: already settled/),
      }),
      expect.objectContaining({
        decision: "skipped",
        code: "unparseable",
        reason: "code unparseable not selected by --code",
      }),
    ]);
    await h.waitFor(() => h.outcomesOf(event.id).length === 2, "the re-published outcome");
    const again = h.outcomesOf(event.id)[1]?.json;
    expect(again?.id).toBe(first?.id);
    expect(again?.data.refundId).toBe(first?.data.refundId);
    expect((await h.dojo.refundsOf(settledPi)).refunds).toHaveLength(1);
    expect(
      await h.dojo.requests({ idempotencyKey: idempotencyKeyFor(event), route: "createRefund" }),
    ).toHaveLength(1);
    expect(await h.depth(dlq)).toEqual({ visible: 1, inFlight: 0 });
  });
});
