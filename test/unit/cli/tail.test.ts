// `refund-relay tail` without a broker: options, configuration, how each kind of message the relay
// publishes is shown, and a broker that is not there. Reading for real is in test/integration/cli/.
import { createServer } from "node:net";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { OutboundRecord } from "../../../consumers/kafka/batching-producer.ts";
import { KafkaOutcomeSink } from "../../../consumers/kafka/sink.ts";
import { deadLetterOf } from "../../../consumers/sqs/dead-letter.ts";
import { REFUND_FAILED_EXAMPLE, REFUND_SUCCEEDED_EXAMPLE } from "../../../schemas/examples.ts";
import { encodeOutcome } from "../../../schemas/index.ts";
import { lineOf, type Received, recordOf, runTail } from "../../../src/cli/tail.ts";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function tail(args: string[], env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  const code = await runTail(args, { stdin: new PassThrough(), stdout, stderr }, { env });
  return { code, ...text };
}

const published = Date.parse("2026-03-02T14:05:11.000Z");
const received = (stream: Received["stream"], m: Partial<Received>): Received => ({
  stream,
  timestamp: published,
  headers: {},
  body: null,
  key: null,
  where: {},
  ...m,
});

describe("refund-relay tail: options", () => {
  it("exits 2 on an unknown option, with the usage", async () => {
    const result = await tail(["--follow"]);
    expect(result.code).toBe(2);
    expect(result.err).toContain("'--follow'");
    expect(result.err).toContain("usage: refund-relay tail");
  });

  it("exits 2 on an unknown stream or a bad number", async () => {
    const stream = await tail(["refunds"]);
    expect(stream.code).toBe(2);
    expect(stream.err).toContain('unknown stream "refunds": say succeeded, failed, dlq or all');
    for (const [option, value] of [
      ["--count", "0"],
      ["--count", "2.5"],
      ["--timeout", "soon"],
    ] as const) {
      const result = await tail([option, value]);
      expect(result.code, `${option} ${value}`).toBe(2);
      expect(result.err).toContain(`${option} must be`);
    }
  });

  it("exits 2 on an option of the other transport", async () => {
    const del = await tail(["--delete"]);
    expect(del.code).toBe(2);
    expect(del.err).toContain("--delete and --visibility are for SQS");
    const beginning = await tail(["--sqs", "--from-beginning"]);
    expect(beginning.code).toBe(2);
    expect(beginning.err).toContain("--from-beginning is for Kafka");
  });

  it("asks only for the queues it reads", async () => {
    const result = await tail(["failed", "--sqs"], { AWS_REGION: "us-east-1" });
    expect(result.code).toBe(2);
    expect(result.err).toContain("SQS_FAILED_QUEUE_URL: required (a queue URL)");
    expect(result.err).not.toContain("SQS_SUCCEEDED_QUEUE_URL");
    expect(result.err).not.toContain("SQS_DLQ_URL");
  });

  it("--help says an SQS read does not delete, how long messages are hidden, and the exit codes", async () => {
    const result = await tail(["--help"]);
    expect(result.code).toBe(0);
    expect(result.out).toContain("Without --delete, tail deletes nothing");
    expect(result.out).toContain("short visibility\ntimeout (--visibility, default 10 s)");
    for (const text of [
      "--count N",
      "--timeout S",
      "--from-beginning",
      "--json",
      "KAFKA_DLQ_TOPIC",
      "SQS_DLQ_URL",
    ])
      expect(result.out).toContain(text);
    expect(result.out).toContain("exit status: 0 stopped by a signal, --count or --timeout; 1 ");
  });
});

describe("refund-relay tail: what a line shows", () => {
  it("refund.succeeded (structured mode): event, payment intent, amount, refund id", () => {
    const encoded = encodeOutcome(REFUND_SUCCEEDED_EXAMPLE, "structured");
    const record = recordOf(received("succeeded", { headers: encoded.headers, body: encoded.value }));
    expect(record).toEqual({
      time: "2026-03-02T14:05:11.000Z",
      stream: "succeeded",
      type: "refund.succeeded",
      eventId: REFUND_SUCCEEDED_EXAMPLE.data.sourceEvent.id,
      outcomeId: REFUND_SUCCEEDED_EXAMPLE.id,
      paymentIntentId: "pi_sandbox_RHf8sNQjx0mW2kqL7c1aBg",
      amount: { value: 4598, currencyCode: "GBP" },
      refundId: "rfd_sandbox_9K2mQx4LtZ0aVb7cHd3eFg",
    });
    expect(lineOf(record)).toBe(
      "2026-03-02T14:05:11.000Z  refund.succeeded  event=5f0c7c55-3b1e-4a53-9f2b-2d1f1a4c9e10  " +
        "intent=pi_sandbox_RHf8sNQjx0mW2kqL7c1aBg  amount=45.98 GBP  refund=rfd_sandbox_9K2mQx4LtZ0aVb7cHd3eFg",
    );
  });

  it("refund.failed in binary mode: the code and message", () => {
    const encoded = encodeOutcome(REFUND_FAILED_EXAMPLE, "binary");
    const record = recordOf(received("failed", { headers: encoded.headers, body: encoded.value }));
    expect(record).toMatchObject({
      type: "refund.failed",
      code: "amount_exceeds_refundable",
      eventId: "5f0c7c55-3b1e-4a53-9f2b-2d1f1a4c9e10",
      paymentIntentId: "pi_sandbox_RHf8sNQjx0mW2kqL7c1aBg",
      amount: { value: 4598, currencyCode: "GBP" },
    });
    expect(lineOf(record)).toContain(
      'refund.failed amount_exceeds_refundable  event=5f0c7c55-3b1e-4a53-9f2b-2d1f1a4c9e10  intent=pi_sandbox_RHf8sNQjx0mW2kqL7c1aBg  amount=45.98 GBP  "Dojo refused the refund',
    );
  });

  it("a Kafka dead letter: the original with rr-* headers", async () => {
    const sent: OutboundRecord[] = [];
    const sink = new KafkaOutcomeSink(
      { send: async (r) => void sent.push(r) },
      { succeeded: "s", failed: "f", deadLetter: "d" },
      "structured",
    );
    const original = JSON.stringify({
      id: "ev-9",
      data: { paymentIntentId: "pi_9", amount: { value: 100, currencyCode: "JPY" } },
    });
    await sink.deadLetter(
      { body: original, headers: { "content-type": "application/cloudevents+json" }, transport: "kafka" },
      {
        code: "needs_reconciliation",
        message: "Dojo did not answer",
        attempts: 3,
        firstSeenAt: new Date(published),
        eventId: "ev-9",
      },
    );
    const record = sent[0]?.message;
    const headers = record?.headers as Record<string, string>;
    const line = lineOf(recordOf(received("dlq", { headers, body: String(record?.value), key: "pi_9" })));
    expect(line).toBe(
      '2026-03-02T14:05:11.000Z  dead-letter needs_reconciliation  event=ev-9  intent=pi_9  amount=100 JPY  "Dojo did not answer"',
    );
  });

  it("an SQS dead letter: the envelope around the original", () => {
    const letter = deadLetterOf(
      { body: "{not json", headers: { "content-type": "application/cloudevents+json" }, transport: "sqs" },
      {
        code: "unparseable",
        message: "body is not valid JSON",
        attempts: 0,
        firstSeenAt: new Date(published),
      },
    );
    const record = recordOf(received("dlq", { body: letter.body }));
    expect(record).toEqual({
      time: "2026-03-02T14:05:11.000Z",
      stream: "dlq",
      type: "dead-letter",
      code: "unparseable",
      message: "body is not valid JSON",
    });
    expect(lineOf(record)).toBe(
      '2026-03-02T14:05:11.000Z  dead-letter unparseable  event=-  intent=-  amount=-  "body is not valid JSON"',
    );
  });

  it("something else on an outcome topic is shown as unreadable, not dropped", () => {
    const line = lineOf(recordOf(received("succeeded", { body: "hello" })));
    expect(line).toBe(
      '2026-03-02T14:05:11.000Z  unreadable  event=-  intent=-  amount=-  "not a CloudEvent: hello"',
    );
  });
});

describe("refund-relay tail: a broker that cannot be reached", () => {
  it("Kafka: exit 1, one line", async () => {
    const brokers = `127.0.0.1:${await closedPort()}`;
    const result = await tail(["--timeout", "30"], { KAFKA_BROKERS: brokers });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(`^refund-relay tail: cannot reach Kafka at ${brokers}: .*ECONNREFUSED`),
    );
    expect(result.err.trim().split("\n")).toHaveLength(1);
  });

  it("SQS: exit 1, one line", async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const result = await tail(["dlq", "--sqs", "--timeout", "30"], {
      SQS_DLQ_URL: `${endpoint}/000000000000/rd`,
      SQS_ENDPOINT: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(`^refund-relay tail: cannot reach SQS at ${endpoint}: .*ECONNREFUSED`),
    );
    expect(result.err.trim().split("\n")).toHaveLength(1);
  });
});
