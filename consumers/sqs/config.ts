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

const SqsVariables = z.object({
  SQS_INPUT_QUEUE_URL: optionalText,
  SQS_SUCCEEDED_QUEUE_URL: optionalText,
  SQS_FAILED_QUEUE_URL: optionalText,
  SQS_DLQ_URL: optionalText,
  SQS_ENDPOINT: optionalText,
  AWS_REGION: optionalText,
  AWS_DEFAULT_REGION: optionalText,
  AWS_ACCESS_KEY_ID: optionalText,
  AWS_SECRET_ACCESS_KEY: optionalText,
  AWS_SESSION_TOKEN: optionalText,
  SQS_RECEIVE_CONCURRENCY: int(4, 1, 64),
  SQS_WAIT_TIME_S: int(20, 0, 20),
  SQS_VISIBILITY_TIMEOUT_S: int(30, 2, SQS_MAX_VISIBILITY_S),
  SQS_HEARTBEAT: bool(true),
  SQS_MAX_PROCESSING_S: int(3_600, 10, SQS_MAX_VISIBILITY_S - 60),
  SQS_CREATE_QUEUES: bool(false),
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
