import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { QueueDepth } from "../../../consumers/sqs/depth.ts";

const URL = "http://127.0.0.1:9324/000000000000/return-approved";

function fakeClient(answers: Array<Record<string, string> | Error>) {
  const calls: unknown[] = [];
  return {
    calls,
    send: async (command: unknown) => {
      calls.push(command);
      const answer = answers.shift() ?? new Error("no answer scripted");
      if (answer instanceof Error) throw answer;
      return { Attributes: answer };
    },
  };
}

describe("SQS queue depth", () => {
  it("reads the approximate counts with GetQueueAttributes", async () => {
    const client = fakeClient([
      {
        ApproximateNumberOfMessages: "42",
        ApproximateNumberOfMessagesNotVisible: "7",
        ApproximateNumberOfMessagesDelayed: "1",
      },
    ]);
    const depth = new QueueDepth({ client: client as never, queueUrl: URL });
    expect(depth.depth).toBeUndefined();
    await depth.poll();
    expect(depth.depth).toMatchObject({ visible: 42, notVisible: 7, delayed: 1 });
    expect(depth.error).toBeUndefined();
    const command = client.calls[0] as GetQueueAttributesCommand;
    expect(command).toBeInstanceOf(GetQueueAttributesCommand);
    expect(command.input).toMatchObject({
      QueueUrl: URL,
      AttributeNames: expect.arrayContaining(["ApproximateNumberOfMessages"]),
    });
  });

  it("keeps the last counts and says why while SQS does not answer, and clears that once it does", async () => {
    const client = fakeClient([
      { ApproximateNumberOfMessages: "5" },
      new Error("connect ECONNREFUSED"),
      { ApproximateNumberOfMessages: "0" },
    ]);
    const depth = new QueueDepth({ client: client as never, queueUrl: URL });
    await depth.poll();
    await depth.poll();
    expect(depth.error?.message).toBe("connect ECONNREFUSED");
    expect(depth.depth?.visible).toBe(5);
    await depth.poll();
    expect(depth.error).toBeUndefined();
    expect(depth.depth?.visible).toBe(0);
  });

  it("polls at start and on its interval until stopped", async () => {
    const answers = Array.from({ length: 50 }, () => ({ ApproximateNumberOfMessages: "1" }));
    const client = fakeClient(answers);
    const depth = new QueueDepth({ client: client as never, queueUrl: URL, intervalMs: 20 });
    depth.start();
    await new Promise((resolve) => setTimeout(resolve, 110));
    await depth.stop();
    const polls = client.calls.length;
    expect(polls).toBeGreaterThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(client.calls.length).toBe(polls);
  });
});
