// The SQS relay against an in-memory SQS: how many messages it takes at once, what it holds back,
// what it deletes and releases and with which receipt handle, FIFO group order, the heartbeat and
// fencing, and the shutdown.
import { afterEach, describe, expect, it } from "vitest";
import { releaseDelayS, SqsRelay, type SqsRelayOptions } from "../../../consumers/sqs/index.ts";
import type { MessageProcessor } from "../../../src/intake/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import type {
  DeliveryContext,
  InboundMessage,
  IntakeGate,
  MessageResult,
  OutcomeEvent,
} from "../../../src/pipeline/index.ts";
import { FakeSqs } from "./fake-sqs.ts";

const IN = "http://fake/000000000000/in";
const IN_FIFO = "http://fake/000000000000/in.fifo";
const OUT = {
  succeeded: "http://fake/000000000000/ok",
  failed: "http://fake/000000000000/no",
  deadLetter: "http://fake/000000000000/dlq",
};
const PUBLISHED: MessageResult = { status: "published", outcome: {} as OutcomeEvent, replayed: false };
const ABANDONED: MessageResult = { status: "abandoned", reason: "stopped" };

interface Held {
  readonly message: InboundMessage;
  readonly ctx: DeliveryContext;
  resolve(result: MessageResult): void;
  reject(error: unknown): void;
}

/** A processor whose results the test gives; it keeps every delivery in arrival order. */
function heldProcessor() {
  const held: Held[] = [];
  const processor: MessageProcessor = {
    process(message, ctx) {
      return new Promise((resolve, reject) => {
        held.push({ message, ctx, resolve, reject });
        // Abandoned once stopping, as the pipeline does with work that has not settled.
        ctx.stop?.addEventListener("abort", () => resolve(ABANDONED), { once: true });
      });
    },
  };
  const bodies = () => held.map((h) => String(h.message.body));
  return { processor, held, bodies };
}

class TestGate implements IntakeGate {
  paused = false;
  readonly #listeners = new Set<(paused: boolean) => void>();
  set(paused: boolean): void {
    this.paused = paused;
    for (const listener of this.#listeners) listener(paused);
  }
  subscribe(listener: (paused: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

const relays: SqsRelay[] = [];
afterEach(async () => {
  await Promise.allSettled(relays.splice(0).map((r) => r.stop(100)));
});

function relayOn(fake: FakeSqs, options: Partial<SqsRelayOptions> = {}): SqsRelay {
  const relay = new SqsRelay({
    client: fake.client,
    inputQueueUrl: IN,
    queues: OUT,
    outcomeMode: "structured",
    maxPending: 100,
    receiveConcurrency: 2,
    waitTimeSeconds: 1,
    visibilityTimeoutS: 30,
    heartbeat: true,
    maxProcessingS: 3600,
    logger: silentLogger,
    ...options,
  });
  relays.push(relay);
  return relay;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const changes = (fake: FakeSqs) =>
  fake
    .callsOf("ChangeMessageVisibilityBatchCommand")
    .flatMap((c) => c.input.Entries as Array<{ ReceiptHandle: string; VisibilityTimeout: number }>);
const deletes = (fake: FakeSqs) =>
  fake
    .callsOf("DeleteMessageBatchCommand")
    .flatMap((c) => c.input.Entries as Array<{ ReceiptHandle: string }>);

describe("SQS source: receiving", () => {
  it("takes more than one receive's worth at once, bounded by maxPending, not by batches of ten", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    for (let i = 0; i < 25; i++) fake.put(IN, `m${i}`);
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake);
    await relay.start(processor);

    await expect.poll(() => held.length).toBe(25);
    const receive = fake.callsOf("ReceiveMessageCommand")[0]?.input;
    expect(receive).toMatchObject({
      QueueUrl: IN,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      VisibilityTimeout: 30,
      MessageAttributeNames: ["All"],
      MessageSystemAttributeNames: ["All"],
    });
    expect(relay.stats.inFlight).toBe(25);
    // Nothing is deleted before its result.
    expect(deletes(fake)).toHaveLength(0);

    for (const h of held) h.resolve(PUBLISHED);
    await expect.poll(() => fake.live(IN).length).toBe(0);
    const calls = fake.callsOf("DeleteMessageBatchCommand");
    expect(calls.every((c) => (c.input.Entries as unknown[]).length <= 10)).toBe(true);
    expect(calls.length).toBeLessThan(25);
    expect(relay.stats).toMatchObject({ received: 25, deleted: 25, inFlight: 0, settled: 25 });
  });

  it("stops polling at maxPending and polls again once half of it is answered", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    for (let i = 0; i < 30; i++) fake.put(IN, `m${i}`);
    const { processor, held } = heldProcessor();
    await relayOn(fake, { maxPending: 10, receiveConcurrency: 1 }).start(processor);

    await expect.poll(() => held.length).toBe(10);
    const polls = fake.callsOf("ReceiveMessageCommand").length;
    await sleep(100);
    expect(held.length).toBe(10);
    expect(fake.callsOf("ReceiveMessageCommand").length).toBe(polls);

    for (const h of held.slice(0, 5)) h.resolve(PUBLISHED);
    await expect.poll(() => held.length).toBe(20);
  });

  it("does not poll while the intake gate is closed, and keeps what arrived meanwhile without releasing it", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const gate = new TestGate();
    const { processor, held } = heldProcessor();
    await relayOn(fake, { gate, receiveConcurrency: 1 }).start(processor);
    await expect.poll(() => fake.callsOf("ReceiveMessageCommand").length).toBe(1);

    // The poll on its way when the gate closes returns the message: it waits here, invisible.
    gate.set(true);
    const m = fake.put(IN, "during-fault");
    await expect.poll(() => m.receiveCount).toBe(1);
    await sleep(50);
    expect(held).toHaveLength(0);
    expect(fake.callsOf("ReceiveMessageCommand")).toHaveLength(1);
    expect(changes(fake)).toHaveLength(0);

    gate.set(false);
    await expect.poll(() => held.length).toBe(1);
    expect(m.receiveCount).toBe(1);
    held[0]?.resolve(PUBLISHED);
    await expect.poll(() => fake.live(IN).length).toBe(0);
  });

  it("turns message attributes into headers and carries the origin", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const m = fake.put(IN, "{}", { attributes: { ce_id: "e-1", "content-type": "application/json" } });
    const { processor, held } = heldProcessor();
    await relayOn(fake).start(processor);
    await expect.poll(() => held.length).toBe(1);
    const delivery = held[0]?.message as InboundMessage & { origin: unknown };
    expect(delivery.transport).toBe("sqs");
    expect(delivery.headers).toEqual({ ce_id: "e-1", "content-type": "application/json" });
    expect(delivery.origin).toEqual({
      queueUrl: IN,
      messageId: m.id,
      receiptHandle: m.handle,
      receiveCount: 1,
      messageGroupId: undefined,
      sentTimestamp: "0",
    });
  });
});

describe("SQS source: releasing", () => {
  it("releases a message the pipeline failed on with a backoff on its receive count", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const m = fake.put(IN, "bad");
    const { processor, held } = heldProcessor();
    const backoff = { baseS: 5, maxS: 60 };
    const relay = relayOn(fake, { releaseBackoff: backoff });
    await relay.start(processor);
    await expect.poll(() => held.length).toBe(1);
    held[0]?.reject(new Error("a bug"));

    await expect
      .poll(() => changes(fake))
      .toEqual([{ Id: "0", ReceiptHandle: m.handle, VisibilityTimeout: releaseDelayS(1, backoff) }]);
    expect(releaseDelayS(1, backoff)).toBe(5);
    expect(releaseDelayS(3, backoff)).toBe(20);
    expect(releaseDelayS(30, backoff)).toBe(60);
    expect(relay.stats.released).toBe(1);
    expect(deletes(fake)).toHaveLength(0);
  });

  it("at shutdown releases at once what was abandoned, and aborts the idle long poll", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake, { receiveConcurrency: 1, waitTimeSeconds: 20 });
    await relay.start(processor);
    const working = fake.put(IN, "working");
    await expect.poll(() => held.length).toBe(1);
    // The loop is back in a long poll of up to 20 s.
    await expect.poll(() => fake.callsOf("ReceiveMessageCommand").length).toBeGreaterThanOrEqual(2);

    const stoppedAt = Date.now();
    const { abandoned } = await relay.stop(1_000);
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
    expect(abandoned).toBe(1);
    expect(changes(fake)).toEqual([{ Id: "0", ReceiptHandle: working.handle, VisibilityTimeout: 0 }]);
    expect(fake.destroyed).toBe(true);
  });

  it("at shutdown releases at once messages received while the gate was closed", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const gate = new TestGate();
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake, { gate, receiveConcurrency: 1 });
    await relay.start(processor);
    await expect.poll(() => fake.callsOf("ReceiveMessageCommand").length).toBe(1);
    gate.set(true);
    const waiting = fake.put(IN, "waiting");
    await expect.poll(() => waiting.receiveCount).toBe(1);

    const { abandoned } = await relay.stop(1_000);
    expect(held).toHaveLength(0);
    expect(abandoned).toBe(1);
    expect(changes(fake)).toEqual([{ Id: "0", ReceiptHandle: waiting.handle, VisibilityTimeout: 0 }]);
  });
});

describe("SQS source: FIFO groups", () => {
  it("starts a group's next message only after the one before settled, and holds the rest on a failure", async () => {
    const fake = new FakeSqs(IN_FIFO, ...Object.values(OUT));
    const a = fake.put(IN_FIFO, "g1-a", { groupId: "g1" });
    fake.put(IN_FIFO, "g1-b", { groupId: "g1" });
    const c = fake.put(IN_FIFO, "g1-c", { groupId: "g1" });
    fake.put(IN_FIFO, "g2-x", { groupId: "g2" });
    const { processor, held, bodies } = heldProcessor();
    const relay = relayOn(fake, { inputQueueUrl: IN_FIFO, releaseBackoff: { baseS: 7, maxS: 7 } });
    await relay.start(processor);

    await expect.poll(() => bodies().sort()).toEqual(["g1-a", "g2-x"]);
    await sleep(30);
    expect(bodies()).toHaveLength(2);

    held.find((h) => h.message.body === "g1-a")?.resolve(PUBLISHED);
    await expect.poll(() => bodies()).toContain("g1-b");
    await expect.poll(() => a.deleted).toBe(true);

    // b fails: b is released with its backoff, c (behind it) at once, and c never starts here.
    held.find((h) => h.message.body === "g1-b")?.reject(new Error("a bug"));
    await expect.poll(() => changes(fake).length).toBe(2);
    expect(
      changes(fake)
        .map((e) => e.VisibilityTimeout)
        .sort(),
    ).toEqual([0, 7]);
    expect(changes(fake).find((e) => e.VisibilityTimeout === 0)?.ReceiptHandle).toBe(c.handle);
    await sleep(30);
    expect(bodies()).not.toContain("g1-c");
    expect(relay.stats.inFlight).toBe(1);
  });

  it("releases the rest of a group behind a message whose lease was lost", async () => {
    const fake = new FakeSqs(IN_FIFO, ...Object.values(OUT));
    const a = fake.put(IN_FIFO, "g1-a", { groupId: "g1" });
    const b = fake.put(IN_FIFO, "g1-b", { groupId: "g1" });
    const { processor, held, bodies } = heldProcessor();
    await relayOn(fake, { inputQueueUrl: IN_FIFO, visibilityTimeoutS: 1 }).start(processor);
    await expect.poll(() => bodies()).toEqual(["g1-a"]);

    fake.steal(a);
    await expect.poll(() => held[0]?.ctx.fenced?.(), { timeout: 3_000 }).toBe(true);
    held[0]?.resolve(PUBLISHED);
    // a comes back from SQS; b must not go ahead of it.
    await expect
      .poll(() => changes(fake).some((e) => e.ReceiptHandle === b.handle && e.VisibilityTimeout === 0))
      .toBe(true);
    expect(bodies()).not.toContain("g1-b");
    expect(deletes(fake)).toHaveLength(0);
  });
});

describe("SQS source: leases", () => {
  it("extends the visibility of a message held longer than its timeout, so it is received once", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const m = fake.put(IN, "slow");
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake, { visibilityTimeoutS: 0.6 });
    await relay.start(processor);
    await expect.poll(() => held.length).toBe(1);

    await sleep(1_400);
    expect(m.receiveCount).toBe(1);
    expect(changes(fake).length).toBeGreaterThanOrEqual(2);
    expect(changes(fake).every((e) => e.VisibilityTimeout === 0.6)).toBe(true);
    expect(held[0]?.ctx.fenced?.()).toBe(false);
    held[0]?.resolve(PUBLISHED);
    await expect.poll(() => m.deleted).toBe(true);
    expect(relay.stats.leasesLost).toBe(0);
  });

  it("fences a message whose extension SQS refused: its late result is not deleted", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const m = fake.put(IN, "taken-over");
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake, { visibilityTimeoutS: 0.6 });
    await relay.start(processor);
    await expect.poll(() => held.length).toBe(1);

    fake.steal(m);
    await expect.poll(() => held[0]?.ctx.fenced?.(), { timeout: 3_000 }).toBe(true);
    held[0]?.resolve(PUBLISHED);
    await sleep(50);
    expect(deletes(fake)).toHaveLength(0);
    expect(m.deleted).toBe(false);
    expect(relay.stats.leasesLost).toBe(1);
  });

  it("fences a message held past the processing cap", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const m = fake.put(IN, "too-long");
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake, { visibilityTimeoutS: 0.6, maxProcessingS: 2 });
    await relay.start(processor);
    await expect.poll(() => held.length).toBe(1);
    // Extended while the cap allows a whole second more (SQS counts visibility in seconds).
    await sleep(900);
    expect(held[0]?.ctx.fenced?.()).toBe(false);
    await expect.poll(() => held[0]?.ctx.fenced?.(), { timeout: 3_000 }).toBe(true);
    expect(relay.stats.leasesLost).toBe(1);
    held[0]?.resolve(PUBLISHED);
    await sleep(50);
    expect(m.deleted).toBe(false);
  });

  it("acks with the newest receipt handle when a message was received again while held", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const m = fake.put(IN, "again");
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake, { visibilityTimeoutS: 0.2, heartbeat: false, receiveConcurrency: 1 });
    await relay.start(processor);
    await expect.poll(() => held.length).toBe(1);
    const firstHandle = m.handle;
    // No heartbeat: the visibility runs out and the message is received a second time.
    await expect.poll(() => held.length).toBeGreaterThanOrEqual(2);
    expect(m.handle).not.toBe(firstHandle);
    expect(held[0]?.ctx.fenced?.()).toBe(false);

    held[0]?.resolve(PUBLISHED);
    await expect.poll(() => m.deleted).toBe(true);
    // Deleted with the handle of the newest receipt (the fake refuses a stale one).
    expect(deletes(fake)).toEqual([{ Id: "0", ReceiptHandle: m.handle }]);
    for (const h of held.slice(1)) h.resolve(PUBLISHED);
    await expect.poll(() => relay.stats.inFlight).toBe(0);
    expect(deletes(fake)).toHaveLength(1);
  });
});

describe("SQS source: deletes", () => {
  it("retries a delete entry SQS failed, and gives up on one whose receipt is no longer valid", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const m1 = fake.put(IN, "one");
    const m2 = fake.put(IN, "two");
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake, { receiveConcurrency: 1 });
    await relay.start(processor);
    await expect.poll(() => held.length).toBe(2);

    fake.entryFaults.set("DeleteMessageBatchCommand", [
      { code: "InternalError" },
      { code: "ReceiptHandleIsInvalid" },
    ]);
    for (const h of held) h.resolve(PUBLISHED);
    await expect.poll(() => fake.callsOf("DeleteMessageBatchCommand").length).toBe(2);
    // The first entry was tried again and deleted; the second was not retried.
    await expect.poll(() => [m1.deleted, m2.deleted]).toEqual([true, false]);
    await sleep(300);
    expect(fake.callsOf("DeleteMessageBatchCommand")).toHaveLength(2);
    expect(relay.stats.deleted).toBe(1);
  });
});

/** The fake as a client, except that receives are refused (connection refused) while `refusing` is set. */
function refusableReceives(fake: FakeSqs): { client: SqsRelayOptions["client"]; refusing: boolean } {
  const control = { refusing: false, client: undefined as unknown as SqsRelayOptions["client"] };
  control.client = {
    send(command: unknown, options?: { abortSignal?: AbortSignal }) {
      if (control.refusing && (command as object).constructor.name === "ReceiveMessageCommand") {
        return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:9324"));
      }
      return fake.send(command, options);
    },
    destroy: () => fake.destroy(),
  } as unknown as SqsRelayOptions["client"];
  return control;
}

describe("SQS source: receive failures", () => {
  it("reports a failing receive (for readiness) at once and clears it when a receive works again", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const receives = refusableReceives(fake);
    const { processor, held } = heldProcessor();
    const relay = relayOn(fake, { client: receives.client });
    await relay.start(processor);
    await expect.poll(() => fake.callsOf("ReceiveMessageCommand").length).toBeGreaterThan(0);
    expect(relay.receiveError).toBeUndefined();

    receives.refusing = true;
    await expect
      .poll(() => relay.receiveError?.message, { timeout: 5_000 })
      .toBe("connect ECONNREFUSED 127.0.0.1:9324");
    const since = relay.receiveError?.since;
    // Later failures keep when it began.
    await sleep(500);
    expect(relay.receiveError?.since).toBe(since);

    receives.refusing = false;
    fake.put(IN, "after");
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1);
    expect(relay.receiveError).toBeUndefined();
    held[0]?.resolve(PUBLISHED);
  }, 20_000);

  it("forgets a receive failure once it stops polling (paused), instead of reporting it all the while", async () => {
    const fake = new FakeSqs(IN, ...Object.values(OUT));
    const receives = refusableReceives(fake);
    const gate = new TestGate();
    const { processor } = heldProcessor();
    const relay = relayOn(fake, { client: receives.client, gate, receiveConcurrency: 1 });
    await relay.start(processor);
    receives.refusing = true;
    await expect.poll(() => relay.receiveError, { timeout: 5_000 }).toBeDefined();
    // Paused (a fault elsewhere): no receive is made, so none could clear it.
    gate.set(true);
    await expect.poll(() => relay.receiveError, { timeout: 3_000 }).toBeUndefined();
    await sleep(500);
    expect(relay.receiveError).toBeUndefined();
  }, 15_000);
});
