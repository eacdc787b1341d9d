// `refund-relay send` without a broker: input checks, options, configuration, and a broker that is not
// there. Sending for real is in test/integration/cli/.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";
import { runSend } from "../../../src/cli/send.ts";
import { validEvent } from "../schemas/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "refund-relay-send-"));
const exampleFile = new URL("../../../schemas/generated/examples/return.approved.v1.json", import.meta.url)
  .pathname;
const snsFile = new URL("../../../schemas/generated/examples/return.approved.v1.sns.json", import.meta.url)
  .pathname;

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function send(args: string[], env: Record<string, string> = {}, stdin = "") {
  const input = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  input.end(stdin);
  const code = await runSend(args, { stdin: input, stdout, stderr }, env);
  return { code, ...text };
}

const event = (id: string, amount: unknown = 1500) => {
  const e = validEvent();
  e.id = id;
  e.data.amount = { value: amount, currencyCode: "GBP" };
  return JSON.stringify(e);
};

// A broker that cannot be reached: were anything sent, the exit code would be 1, not 2 or 0.
const nowhere = async () => ({ KAFKA_BROKERS: `127.0.0.1:${await closedPort()}` });

describe("refund-relay send: input", () => {
  it("names the line that is not JSON and sends nothing (exit 2)", async () => {
    const input = [event("e-1"), "", event("e-3"), "{not json", event("e-5")].join("\n");
    const result = await send([file("bad-json.jsonl", input)], await nowhere());
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^refund-relay send: line 4: not valid JSON \(/);
    expect(result.err).toContain("1 of 4 events are not valid; nothing sent");
    expect(result.err).not.toMatch(/\n\s+at /);
    expect(result.out).toBe("");
  });

  it("names the line and the field of an invalid event (exit 2)", async () => {
    const input = `${event("e-1")}\n${event("e-2", 12.5)}\n`;
    const result = await send([file("invalid.jsonl", input)], await nowhere());
    expect(result.code).toBe(2);
    expect(result.err).toContain("line 2: invalid return.approved data:");
    expect(result.err).toContain("data.amount.value: must be an integer number of minor units");
    expect(result.err).not.toContain("line 1");
  });

  it("reports a broken pretty-printed document once, with the JSON error's position", async () => {
    const result = await send([], await nowhere(), '{\n  "specversion": "1.0",\n');
    expect(result.code).toBe(2);
    expect(result.err).toContain("refund-relay send: stdin: not valid JSON (");
    expect(result.err).toContain("line 3");
    expect(result.err).toContain("the event is not valid; nothing sent");
  });

  it("checks as the relay reads the transport: an SNS notification is an SQS message only", async () => {
    const kafka = await send(["--dry-run", snsFile], await nowhere());
    expect(kafka.code).toBe(2);
    expect(kafka.err).toContain("invalid return.approved envelope");
    const sqs = await send(["--sqs", "--dry-run", snsFile], {
      SQS_INPUT_QUEUE_URL: "http://127.0.0.1:9/000000000000/ra",
      AWS_REGION: "us-east-1",
    });
    expect(sqs.code).toBe(0);
    expect(sqs.out).toContain("key pi_sandbox_RHf8sNQjx0mW2kqL7c1aBg");
  });

  it("exits 2 on empty input, a missing file, or two files", async () => {
    const empty = await send([], await nowhere(), "\n\n");
    expect(empty.code).toBe(2);
    expect(empty.err).toContain("no event in the input");
    const missing = await send([join(dir, "nope.json")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("cannot read");
    expect(missing.err).toContain("ENOENT");
    const two = await send([exampleFile, exampleFile]);
    expect(two.code).toBe(2);
    expect(two.err).toContain("give at most one file");
  });
});

describe("refund-relay send: options", () => {
  it("--dry-run checks and shows the events and their keys, sends nothing (exit 0)", async () => {
    const lines = `${event("e-1")}\r\n${event("e-2")}\r\n`;
    const result = await send(["--dry-run", "--topic", "shop.returns", "-"], await nowhere(), lines);
    expect(result.code).toBe(0);
    expect(result.out).toContain("line 1: event e-1, key pi_");
    expect(result.out).toContain("line 2: event e-2, key pi_");
    expect(result.out).toMatch(
      /dry run: 2 events would be sent to Kafka topic shop\.returns \(127\.0\.0\.1:\d+\); nothing sent/,
    );
  });

  it("--raw sends lines as they are: no check of JSON or contract", async () => {
    const input = [event("e-1", "12"), "not json at all", '{"id":"x"}'].join("\n");
    const result = await send(["--raw", "--dry-run", file("raw.jsonl", input)], await nowhere());
    expect(result.code).toBe(0);
    expect(result.out).toContain("line 1: event e-1, key pi_");
    expect(result.out).toContain("line 2: no event id, no payment intent");
    expect(result.out).toContain("line 3: event x, no payment intent");
    expect(result.out).toContain("dry run: 3 events would be sent");
  });

  it("exits 2 on an unknown option, showing the usage", async () => {
    const result = await send(["--bogus", exampleFile]);
    expect(result.code).toBe(2);
    expect(result.err).toContain("'--bogus'");
    expect(result.err).toContain("usage: refund-relay send");
  });

  it("exits 2 on an option of the other transport", async () => {
    const topic = await send(["--sqs", "--topic", "t", exampleFile]);
    expect(topic.code).toBe(2);
    expect(topic.err).toContain("--topic is for Kafka");
    const queue = await send(["--queue-url", "http://x/1/q", exampleFile]);
    expect(queue.code).toBe(2);
    expect(queue.err).toContain("--queue-url is for SQS");
  });

  it("exits 2 naming each missing or wrong setting", async () => {
    const sqs = await send(["--sqs", exampleFile], { RELAY_SOURCE: "kafka" });
    expect(sqs.code).toBe(2);
    expect(sqs.err).toContain("SQS_INPUT_QUEUE_URL: required (a queue URL), or give --queue-url");
    expect(sqs.err).toContain("AWS_REGION: required when the queue URL names no region");
    const url = await send(["--sqs", "--queue-url", "not a url", exampleFile], { AWS_REGION: "eu-west-2" });
    expect(url.code).toBe(2);
    expect(url.err).toContain('--queue-url: "not a url" is not a URL');
    const topic = await send(["--topic", "no spaces please", exampleFile]);
    expect(topic.code).toBe(2);
    expect(topic.err).toContain("--topic: must be a Kafka topic name");
    const source = await send([exampleFile], { RELAY_SOURCE: "rabbitmq" });
    expect(source.code).toBe(2);
    expect(source.err).toContain('RELAY_SOURCE: must be kafka or sqs, got "rabbitmq"');
  });

  it("--help lists the options, the environment and the exit codes", async () => {
    const stdout = new PassThrough();
    let out = "";
    stdout.on("data", (c: Buffer) => (out += c.toString()));
    const code = await main(["send", "--help"], {
      stdin: new PassThrough(),
      stdout,
      stderr: new PassThrough(),
    });
    expect(code).toBe(0);
    for (const text of [
      "--raw",
      "--dry-run",
      "--topic",
      "--queue-url",
      "KAFKA_INPUT_TOPIC",
      "SQS_INPUT_QUEUE_URL",
    ])
      expect(out).toContain(text);
    expect(out).toContain("exit status: 0 every event sent");
  });
});

describe("refund-relay send: a broker that cannot be reached", () => {
  it("Kafka: exit 1 within seconds, one line, no stack", async () => {
    const env = await nowhere();
    const started = Date.now();
    const result = await send([exampleFile], env);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(`^refund-relay send: cannot reach Kafka at ${env.KAFKA_BROKERS}: .*ECONNREFUSED`),
    );
    expect(result.err.trim().split("\n")).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it("SQS: exit 1, nothing sent", async () => {
    const port = await closedPort();
    const result = await send(["--sqs", exampleFile], {
      SQS_INPUT_QUEUE_URL: `http://127.0.0.1:${port}/000000000000/ra`,
      SQS_ENDPOINT: `http://127.0.0.1:${port}`,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    });
    expect(result.code).toBe(1);
    expect(result.err).toContain(`could not send to SQS queue http://127.0.0.1:${port}/000000000000/ra`);
    expect(result.err).toContain("nothing sent");
    expect(result.err).not.toMatch(/\n\s+at /);
  });
});
