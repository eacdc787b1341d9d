// Amazon SQS's part of the configuration (RELAY_SOURCE=sqs): queues, region and endpoint, receiving,
// visibility and heartbeat. Credentials come from the AWS SDK's default provider chain; keys given in
// the environment are kept as Secrets so that logging the configuration never shows them.
import { z } from "zod";
import {
  bool,
  type FragmentContext,
  int,
  optionalText,
  Secret,
  type TransportFragment,
} from "../../src/config-parts.ts";

/** SQS keeps a message invisible for at most 12 hours after a receive; the cap stays below that. */
export const SQS_MAX_VISIBILITY_S = 43_200;

const queueUrl = (description: string, example?: string) =>
  optionalText.meta({
    description,
    format: "queue URL",
    ...(example === undefined ? {} : { example }),
    defaultText: "required",
  });

const SqsVariables = z.object({
  SQS_INPUT_QUEUE_URL: queueUrl(
    "Queue of the `return.approved` events, standard or FIFO (`.fifo`).",
    "https://sqs.eu-west-2.amazonaws.com/123456789012/return-approved",
  ),
  SQS_SUCCEEDED_QUEUE_URL: queueUrl("Queue of successful outcomes."),
  SQS_FAILED_QUEUE_URL: queueUrl("Queue of definitive failures."),
  SQS_DLQ_URL: queueUrl(
    "The relay's dead letters (unparseable events, parked events), as JSON envelopes; not the input queue's redrive queue.",
  ),
  SQS_ENDPOINT: optionalText.meta({
    description: "An SQS-compatible endpoint (ElasticMQ, LocalStack); unset for AWS itself.",
    format: "http(s) URL",
    example: "http://127.0.0.1:9324",
  }),
  AWS_REGION: optionalText.meta({
    description: "Region the requests are signed for.",
    example: "eu-west-2",
    defaultText: "the input queue URL's region",
  }),
  AWS_DEFAULT_REGION: optionalText.meta({
    description: "Used when `AWS_REGION` is unset, as the AWS CLI does.",
    example: "eu-west-2",
  }),
  AWS_ACCESS_KEY_ID: optionalText.meta({
    description:
      "Access key, with `AWS_SECRET_ACCESS_KEY`; when both are unset the AWS SDK's default provider chain finds credentials (instance or task role, web identity, profile).",
    secret: true,
  }),
  AWS_SECRET_ACCESS_KEY: optionalText.meta({
    description: "Secret access key, with `AWS_ACCESS_KEY_ID`.",
    secret: true,
  }),
  AWS_SESSION_TOKEN: optionalText.meta({
    description: "Session token of temporary credentials.",
    secret: true,
  }),
  SQS_RECEIVE_CONCURRENCY: int(4, 1, 64).meta({
    description: "Long polls running at once, each taking up to 10 messages.",
  }),
  SQS_WAIT_TIME_S: int(20, 0, 20).meta({
    description: "How long one long poll waits for messages.",
    unit: "s",
  }),
  SQS_VISIBILITY_TIMEOUT_S: int(30, 2, SQS_MAX_VISIBILITY_S).meta({
    description:
      "Visibility asked for on every receive (the queue's own default does not matter), and by which the heartbeat extends it.",
    unit: "s",
  }),
  SQS_HEARTBEAT: bool(true).meta({
    description:
      "Extend the visibility of every message held when a third of it is left; `false` only when every message surely settles within the visibility timeout.",
  }),
  SQS_MAX_PROCESSING_S: int(3_600, 10, SQS_MAX_VISIBILITY_S - 60).meta({
    description:
      "How long one receipt of a message is kept invisible at most (below SQS's 12 hours); past it the message is given up to SQS and its late result fenced.",
    unit: "s",
  }),
  SQS_CREATE_QUEUES: bool(false).meta({
    description: "Create missing queues at start-up; otherwise the relay refuses to start and names them.",
  }),
});

type SqsEnv = z.output<typeof SqsVariables>;

export interface SqsSettings {
  readonly inputQueueUrl: string;
  readonly succeededQueueUrl: string;
  readonly failedQueueUrl: string;
  readonly dlqUrl: string;
  /** An SQS-compatible endpoint (ElasticMQ, LocalStack); unset for AWS itself. */
  readonly endpoint?: string;
  readonly region: string;
  /** Keys given in the environment; otherwise the SDK's default provider chain finds them. */
  readonly credentials?: {
    readonly accessKeyId: Secret;
    readonly secretAccessKey: Secret;
    readonly sessionToken?: Secret;
  };
  /** Long polls running at once against the input queue. */
  readonly receiveConcurrency: number;
  /** How long one receive waits for messages (0 to 20 s). */
  readonly waitTimeSeconds: number;
  /** Visibility asked for on every receive, and by which each heartbeat extends it. */
  readonly visibilityTimeoutS: number;
  /** Extend the visibility of messages in flight before it runs out. */
  readonly heartbeat: boolean;
  /** How long one receipt of a message may be worked on before its lease is given up (fenced). */
  readonly maxProcessingS: number;
  /** Create missing queues at start-up instead of refusing to start. */
  readonly createQueues: boolean;
}

const QUEUE_NAME = /^(?:[A-Za-z0-9_-]{1,75}\.fifo|[A-Za-z0-9_-]{1,80})$/;

/** The queue's name (the URL's last path segment), or a problem with the URL. */
function checkQueueUrl(variable: string, url: string | undefined, problems: string[]): string {
  if (url === undefined) {
    problems.push(`${variable}: required when RELAY_SOURCE=sqs (a queue URL)`);
    return "";
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push(`${variable}: "${url}" is not a URL`);
    return url;
  }
  const name =
    parsed.pathname
      .split("/")
      .filter((s) => s !== "")
      .at(-1) ?? "";
  if (!/^https?:$/.test(parsed.protocol) || !QUEUE_NAME.test(name)) {
    problems.push(
      `${variable}: "${url}" is not an SQS queue URL (http(s)://host/<account>/<name>, name of A-Z a-z 0-9 _ -, up to 80 chars, FIFO names ending in .fifo)`,
    );
  }
  return url;
}

/** The region in an AWS host name: sqs.<region>.amazonaws.com or <region>.queue.amazonaws.com. */
export function regionOfHost(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const host = new URL(url).hostname;
    return (
      /^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(host)?.[1] ??
      /^([a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?$/.exec(host)?.[1]
    );
  } catch {
    return undefined;
  }
}

function sqsSettings(e: SqsEnv, { problems }: FragmentContext): SqsSettings {
  const inputQueueUrl = checkQueueUrl("SQS_INPUT_QUEUE_URL", e.SQS_INPUT_QUEUE_URL, problems);
  const outputs = {
    succeededQueueUrl: checkQueueUrl("SQS_SUCCEEDED_QUEUE_URL", e.SQS_SUCCEEDED_QUEUE_URL, problems),
    failedQueueUrl: checkQueueUrl("SQS_FAILED_QUEUE_URL", e.SQS_FAILED_QUEUE_URL, problems),
    dlqUrl: checkQueueUrl("SQS_DLQ_URL", e.SQS_DLQ_URL, problems),
  };
  // An outcome or dead letter sent to the input queue would be read back as an event.
  const outputUrls = [
    ["SQS_SUCCEEDED_QUEUE_URL", outputs.succeededQueueUrl],
    ["SQS_FAILED_QUEUE_URL", outputs.failedQueueUrl],
    ["SQS_DLQ_URL", outputs.dlqUrl],
  ] as const;
  for (const [variable, url] of outputUrls) {
    if (url !== "" && url === inputQueueUrl) problems.push(`${variable}: must not be the input queue`);
  }
  if (e.SQS_ENDPOINT !== undefined && !/^https?:\/\/[^\s]+$/.test(e.SQS_ENDPOINT)) {
    problems.push(`SQS_ENDPOINT: must be an http(s) URL, got "${e.SQS_ENDPOINT}"`);
  }
  const region =
    e.AWS_REGION ??
    e.AWS_DEFAULT_REGION ??
    regionOfHost(e.SQS_INPUT_QUEUE_URL) ??
    regionOfHost(e.SQS_ENDPOINT);
  if (region === undefined) {
    problems.push("AWS_REGION: required when RELAY_SOURCE=sqs and the queue URL names no region");
  }
  if ((e.AWS_ACCESS_KEY_ID === undefined) !== (e.AWS_SECRET_ACCESS_KEY === undefined)) {
    problems.push("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: set both or neither");
  }
  if (e.SQS_HEARTBEAT && e.SQS_MAX_PROCESSING_S < e.SQS_VISIBILITY_TIMEOUT_S) {
    problems.push("SQS_MAX_PROCESSING_S: must not be below SQS_VISIBILITY_TIMEOUT_S");
  }
  const credentials =
    e.AWS_ACCESS_KEY_ID !== undefined && e.AWS_SECRET_ACCESS_KEY !== undefined
      ? {
          accessKeyId: new Secret(e.AWS_ACCESS_KEY_ID),
          secretAccessKey: new Secret(e.AWS_SECRET_ACCESS_KEY),
          ...(e.AWS_SESSION_TOKEN === undefined ? {} : { sessionToken: new Secret(e.AWS_SESSION_TOKEN) }),
        }
      : undefined;
  return {
    inputQueueUrl,
    ...outputs,
    ...(e.SQS_ENDPOINT === undefined ? {} : { endpoint: e.SQS_ENDPOINT }),
    region: region ?? "",
    ...(credentials === undefined ? {} : { credentials }),
    receiveConcurrency: e.SQS_RECEIVE_CONCURRENCY,
    waitTimeSeconds: e.SQS_WAIT_TIME_S,
    visibilityTimeoutS: e.SQS_VISIBILITY_TIMEOUT_S,
    heartbeat: e.SQS_HEARTBEAT,
    maxProcessingS: e.SQS_MAX_PROCESSING_S,
    createQueues: e.SQS_CREATE_QUEUES,
  };
}

export const SQS_CONFIG: TransportFragment<typeof SqsVariables.shape, SqsSettings> = {
  source: "sqs",
  variables: SqsVariables,
  settings: sqsSettings,
};
