// RELAY_SOURCE=sqs: the SQS fragment of the configuration, composed with the core's settings.
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { regionOfHost } from "../../../consumers/sqs/index.ts";
import { ConfigError, loadConfig } from "../../../src/config.ts";

const API_KEY = "sk_sandbox_Zq7LongSecretValue42";
const QUEUES = {
  SQS_INPUT_QUEUE_URL: "https://sqs.eu-west-2.amazonaws.com/123456789012/return-approved",
  SQS_SUCCEEDED_QUEUE_URL: "https://sqs.eu-west-2.amazonaws.com/123456789012/refund-succeeded",
  SQS_FAILED_QUEUE_URL: "https://sqs.eu-west-2.amazonaws.com/123456789012/refund-failed",
  SQS_DLQ_URL: "https://sqs.eu-west-2.amazonaws.com/123456789012/return-approved-dlq",
};
const BASE = { RELAY_SOURCE: "sqs", DOJO_API_KEY: API_KEY, ...QUEUES };
const noFiles = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
};

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env, noFiles);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

describe("SQS configuration", () => {
  it("fills defaults, takes the region from the queue URL, and needs no Kafka settings", () => {
    const config = loadConfig(BASE, noFiles);
    expect(config.source).toBe("sqs");
    expect(config.kafka).toBeUndefined();
    expect(config.sqs).toEqual({
      inputQueueUrl: QUEUES.SQS_INPUT_QUEUE_URL,
      succeededQueueUrl: QUEUES.SQS_SUCCEEDED_QUEUE_URL,
      failedQueueUrl: QUEUES.SQS_FAILED_QUEUE_URL,
      dlqUrl: QUEUES.SQS_DLQ_URL,
      region: "eu-west-2",
      receiveConcurrency: 4,
      waitTimeSeconds: 20,
      visibilityTimeoutS: 30,
      heartbeat: true,
      maxProcessingS: 3600,
      createQueues: false,
    });
    expect(Object.isFrozen(config.sqs)).toBe(true);
  });

  it("reads an emulator endpoint, the region and every receive and visibility setting", () => {
    const config = loadConfig(
      {
        ...BASE,
        SQS_INPUT_QUEUE_URL: "http://127.0.0.1:9324/000000000000/in.fifo",
        SQS_ENDPOINT: "http://127.0.0.1:9324",
        AWS_REGION: "us-east-1",
        SQS_RECEIVE_CONCURRENCY: "8",
        SQS_WAIT_TIME_S: "5",
        SQS_VISIBILITY_TIMEOUT_S: "2",
        SQS_HEARTBEAT: "false",
        SQS_MAX_PROCESSING_S: "600",
        SQS_CREATE_QUEUES: "true",
        KAFKA_BROKERS: "not even checked",
      },
      noFiles,
    );
    expect(config.sqs).toMatchObject({
      inputQueueUrl: "http://127.0.0.1:9324/000000000000/in.fifo",
      endpoint: "http://127.0.0.1:9324",
      region: "us-east-1",
      receiveConcurrency: 8,
      waitTimeSeconds: 5,
      visibilityTimeoutS: 2,
      heartbeat: false,
      maxProcessingS: 600,
      createQueues: true,
    });
  });

  it("names every missing queue and a region it cannot tell", () => {
    expect(problemsOf({ RELAY_SOURCE: "sqs", DOJO_API_KEY: API_KEY })).toEqual([
      "SQS_INPUT_QUEUE_URL: required when RELAY_SOURCE=sqs (a queue URL)",
      "SQS_SUCCEEDED_QUEUE_URL: required when RELAY_SOURCE=sqs (a queue URL)",
      "SQS_FAILED_QUEUE_URL: required when RELAY_SOURCE=sqs (a queue URL)",
      "SQS_DLQ_URL: required when RELAY_SOURCE=sqs (a queue URL)",
      "AWS_REGION: required when RELAY_SOURCE=sqs and the queue URL names no region",
    ]);
  });

  it("checks queue URLs, limits and combinations together with the core's settings", () => {
    const problems = problemsOf({
      ...BASE,
      SQS_DLQ_URL: QUEUES.SQS_INPUT_QUEUE_URL,
      SQS_FAILED_QUEUE_URL: "not a url",
      SQS_SUCCEEDED_QUEUE_URL: "https://sqs.eu-west-2.amazonaws.com/123/bad name!",
      SQS_WAIT_TIME_S: "21",
      SQS_VISIBILITY_TIMEOUT_S: "1",
      SQS_RECEIVE_CONCURRENCY: "0",
      SQS_MAX_PROCESSING_S: "50000",
      SQS_ENDPOINT: "localhost:9324",
      AWS_ACCESS_KEY_ID: "AKIAONLY",
      MAX_IN_FLIGHT: "0",
    });
    for (const name of [
      "SQS_DLQ_URL: must not be the input queue",
      'SQS_FAILED_QUEUE_URL: "not a url" is not a URL',
      "SQS_SUCCEEDED_QUEUE_URL:",
      "SQS_WAIT_TIME_S: must be an integer from 0 to 20",
      "SQS_VISIBILITY_TIMEOUT_S: must be an integer from 2 to 43200",
      "SQS_RECEIVE_CONCURRENCY: must be an integer from 1 to 64",
      "SQS_MAX_PROCESSING_S: must be an integer from 10 to 43140",
      "SQS_ENDPOINT: must be an http(s) URL",
      "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: set both or neither",
      "MAX_IN_FLIGHT:",
    ]) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
  });

  it("refuses a processing cap below the visibility timeout when the heartbeat is on", () => {
    expect(problemsOf({ ...BASE, SQS_VISIBILITY_TIMEOUT_S: "120", SQS_MAX_PROCESSING_S: "60" })).toEqual([
      "SQS_MAX_PROCESSING_S: must not be below SQS_VISIBILITY_TIMEOUT_S",
    ]);
  });

  it("keeps AWS keys from the environment as Secrets that never show when logged", () => {
    const config = loadConfig(
      {
        ...BASE,
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLEKEYID",
        AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMIsecret",
        AWS_SESSION_TOKEN: "tok-123",
      },
      noFiles,
    );
    expect(config.sqs?.credentials?.secretAccessKey.reveal()).toBe("wJalrXUtnFEMIsecret");
    for (const text of [JSON.stringify(config), inspect(config, { depth: Number.POSITIVE_INFINITY })]) {
      expect(text).not.toContain("AKIAEXAMPLEKEYID");
      expect(text).not.toContain("wJalrXUtnFEMIsecret");
      expect(text).not.toContain("tok-123");
    }
  });

  it("still refuses an unknown source", () => {
    expect(problemsOf({ ...BASE, RELAY_SOURCE: "rabbit" })[0]).toBe("RELAY_SOURCE: must be kafka or sqs");
  });

  it("reads the region of AWS queue hosts", () => {
    expect(regionOfHost("https://sqs.ap-southeast-2.amazonaws.com/1/q")).toBe("ap-southeast-2");
    expect(regionOfHost("https://eu-central-1.queue.amazonaws.com/1/q")).toBe("eu-central-1");
    expect(regionOfHost("http://127.0.0.1:9324/000000000000/q")).toBeUndefined();
  });
});
