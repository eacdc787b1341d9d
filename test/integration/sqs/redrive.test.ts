// A message the relay keeps failing on is released with a growing delay and, after the input queue's
// maxReceiveCount, moved by SQS to the queue's redrive dead-letter queue; the rest keeps flowing.
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqsRelay } from "../../../consumers/sqs/index.ts";
import type { MessageProcessor } from "../../../src/intake/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import type { MessageResult, OutcomeEvent } from "../../../src/pipeline/index.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import { SqsHarness } from "../../support/sqs-harness.ts";

const servers = await sqsServers();
const MAX_RECEIVE_COUNT = 3;

const SETTLED: MessageResult = { status: "published", outcome: {} as OutcomeEvent, replayed: false };

describe.each(servers)("relay over SQS ($name): a poison message", ({ endpoint: sqsEndpoint }) => {
  let h: SqsHarness;

  beforeAll(async () => {
    h = await new SqsHarness({ endpoint: sqsEndpoint, maxReceiveCount: MAX_RECEIVE_COUNT }).setUp();
  });
  afterAll(async () => {
    await h?.tearDown();
  });

  it("reaches the queue's redrive dead-letter queue after maxReceiveCount receives", async () => {
    const relay = new SqsRelay({
      client: new SQSClient({
        endpoint: sqsEndpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      }),
      inputQueueUrl: h.urls.input,
      queues: { succeeded: h.urls.succeeded, failed: h.urls.failed, deadLetter: h.urls.dlq },
      outcomeMode: "structured",
      maxPending: 16,
      receiveConcurrency: 2,
      waitTimeSeconds: 1,
      visibilityTimeoutS: 10,
      heartbeat: true,
      maxProcessingS: 60,
      releaseBackoff: { baseS: 1, maxS: 1 },
      logger: silentLogger,
    });
    const bodies: string[] = [];
    // Stands in for a pipeline that fails on one message (a bug): every other message settles.
    const processor: MessageProcessor = {
      process: async (message) => {
        bodies.push(String(message.body));
        if (String(message.body).startsWith("poison")) throw new Error("the pipeline failed");
        return SETTLED;
      },
    };
    await relay.start(processor);
    try {
      await h.send([{ body: "poison-1", attributes: { kind: "poison" } }, { body: "fine-1" }]);
      await h.waitFor(() => h.redriven().length === 1, "the poison message on the redrive queue", 20_000);
      const moved = h.redriven()[0];
      expect(moved?.body).toBe("poison-1");
      expect(moved?.attributes).toEqual({ kind: "poison" });
      expect(bodies.filter((b) => b === "poison-1")).toHaveLength(MAX_RECEIVE_COUNT);
      expect(bodies.filter((b) => b === "fine-1")).toHaveLength(1);
      expect(relay.stats).toMatchObject({ deleted: 1, released: MAX_RECEIVE_COUNT });
      await expect.poll(() => h.depth(), { timeout: 5_000 }).toEqual({ visible: 0, inFlight: 0 });
    } finally {
      await relay.stop(1_000);
    }
  });
});
