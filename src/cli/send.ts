// `refund-relay send [file|-]`: publishes return.approved events to the relay's input, a Kafka topic or
// an SQS queue, the way platforms are asked to: structured-mode CloudEvents keyed by payment intent id
// (Kafka) or grouped by it (SQS FIFO). Every event is checked against the contract first, as
// `refund-relay validate` checks it, and nothing is sent while one is invalid; `--raw` sends lines as
// they are, to see what the relay does with a bad one.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type DecodeFailure, decodeReturnApproved } from "../../schemas/index.ts";
import {
  CommandError,
  cliKafka,
  cliSqs,
  DEFAULT_KAFKA_BROKERS,
  describeError,
  type Env,
  isUnknownTopic,
  kafkaSettings,
  pickTransport,
  sqsProblem,
  sqsSettings,
  sqsTarget,
  type TransportName,
} from "./broker-clients.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";

const HELP = `usage: refund-relay send [options] [file|-]

Publishes return.approved events to the relay's input: a Kafka topic (RELAY_SOURCE=kafka, the default)
or an SQS queue (RELAY_SOURCE=sqs, or --sqs). The input is one JSON document, or JSON lines (one event
per line); standard input when the file is "-" or absent.

Every event is checked against the return.approved v1 contract first, as \`refund-relay validate\` does;
when one is not JSON or not valid, its line and fields are named and nothing is sent.
Kafka: each event is keyed by its data.paymentIntentId, with the header
content-type: application/cloudevents+json. SQS: sent in batches of ten with the message attribute
content-type; on a FIFO queue (.fifo) the message group is the payment intent id and the
deduplication id the event id.

options:
  --topic <name>       Kafka topic (default: KAFKA_INPUT_TOPIC, else return.approved)
  --queue-url <url>    SQS queue (default: SQS_INPUT_QUEUE_URL)
  --kafka, --sqs       the transport, instead of RELAY_SOURCE
  --raw                send each line (or the whole document) as it is, checked for nothing: to see how
                       the relay answers an invalid or unparseable message
  --dry-run            check the input and the configuration, show what would be sent, send nothing
  -h, --help           this help

environment:
  RELAY_SOURCE                      kafka (default) or sqs
  KAFKA_BROKERS                     host:port,... (default ${DEFAULT_KAFKA_BROKERS})
  KAFKA_INPUT_TOPIC                 the topic (default return.approved)
  KAFKA_CLIENT_ID, KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE,
  KAFKA_SSL_REJECT_UNAUTHORIZED, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD
                                    connecting, as for \`refund-relay start\`
  SQS_INPUT_QUEUE_URL               the queue
  SQS_ENDPOINT                      an SQS-compatible endpoint (ElasticMQ, LocalStack); unset for AWS
  AWS_REGION (or AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                                    region and credentials (else the AWS SDK's default providers)

exit status: 0 every event sent (or checked, with --dry-run); 1 the broker could not be reached or
refused a message (a few seconds of retries); 2 usage, configuration or input error (nothing sent).
`;

interface Options {
  readonly file: string;
  readonly transport: TransportName;
  readonly topic: string | undefined;
  readonly queueUrl: string | undefined;
  readonly raw: boolean;
  readonly dryRun: boolean;
}

const SEND_OPTIONS = {
  topic: { type: "string" },
  "queue-url": { type: "string" },
  kafka: { type: "boolean" },
  sqs: { type: "boolean" },
  raw: { type: "boolean" },
  "dry-run": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function parseOptions(args: readonly string[], env: Env): Options | "help" {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof SEND_OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options: SEND_OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new CommandError(EXIT_USAGE, (error as Error).message, true);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return "help";
  if (positionals.length > 1) throw new CommandError(EXIT_USAGE, "give at most one file", true);
  const transport = pickTransport(values, env);
  if (transport === "kafka" && values["queue-url"] !== undefined) {
    throw new CommandError(EXIT_USAGE, "--queue-url is for SQS (--sqs or RELAY_SOURCE=sqs)", true);
  }
  if (transport === "sqs" && values.topic !== undefined) {
    throw new CommandError(EXIT_USAGE, "--topic is for Kafka (--kafka or RELAY_SOURCE=kafka)", true);
  }
  return {
    file: positionals[0] ?? "-",
    transport,
    topic: values.topic,
    queueUrl: values["queue-url"],
    raw: values.raw === true,
    dryRun: values["dry-run"] === true,
  };
}

async function readInput(file: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (file !== "-") {
    try {
      return await readFile(file, "utf8");
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new CommandError(EXIT_USAGE, `cannot read ${file}: ${reason}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** One message of the input: where it was, and its text. */
interface Piece {
  readonly label: string;
  readonly text: string;
}

function jsonError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The whole input when it is one JSON document; otherwise its non-blank lines (JSON lines). Unless
 * --raw, an input that is not JSON and whose first line is not either is one broken document, reported
 * once (a pretty-printed event with a typo), not line by line.
 */
function piecesOf(text: string, name: string, raw: boolean): Piece[] {
  if (text.trim() === "") return [];
  if (jsonError(text) === undefined) return [{ label: name, text: text.trim() }];
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const first = lines.find((l) => l.trim() !== "");
  if (!raw && first !== undefined && jsonError(first) !== undefined) return [{ label: name, text }];
  const pieces: Piece[] = [];
  lines.forEach((line, i) => {
    if (line.trim() !== "") pieces.push({ label: `line ${i + 1}`, text: line });
  });
  return pieces;
}

/** A message ready to go: its body, and the ids it is sent under. */
interface Outgoing {
  readonly label: string;
  readonly body: string;
  /** Kafka key; SQS FIFO message group. */
  readonly key: string | null;
  readonly eventId: string | undefined;
}

const CONTENT_TYPE = "application/cloudevents+json";

function isSnsNotification(value: unknown): boolean {
  return typeof value === "object" && value !== null && "TopicArn" in value && "Type" in value;
}

function problemsOf(label: string, failure: DecodeFailure): string {
  if (failure.stage === "unparseable") return `${label}: ${failure.issues.map((i) => i.message).join("; ")}`;
  const lines = failure.issues.map((i) => `    ${i.path === "" ? "(event)" : i.path}: ${i.message}`);
  return `${label}: invalid return.approved ${failure.stage}:\n${lines.join("\n")}`;
}

/** Every piece checked as the relay would read it from this transport; throws listing every problem. */
function checked(pieces: readonly Piece[], transport: TransportName): Outgoing[] {
  const problems: string[] = [];
  const out: Outgoing[] = [];
  for (const piece of pieces) {
    const notJson = jsonError(piece.text);
    if (notJson !== undefined) {
      problems.push(`${piece.label}: not valid JSON (${notJson})`);
      continue;
    }
    const headers = isSnsNotification(JSON.parse(piece.text)) ? {} : { "content-type": CONTENT_TYPE };
    const result = decodeReturnApproved({ body: piece.text, headers, transport });
    if (!result.ok) {
      problems.push(problemsOf(piece.label, result));
      continue;
    }
    out.push({
      label: piece.label,
      body: piece.text,
      key: result.event.data.paymentIntentId,
      eventId: result.event.id,
    });
  }
  if (problems.length > 0) {
    const count =
      pieces.length === 1
        ? "the event is"
        : `${problems.length} of ${pieces.length} ${pieces.length === 1 ? "event is" : "events are"}`;
    throw new CommandError(
      EXIT_USAGE,
      `${problems.join("\n")}\n${count} not valid; nothing sent (--raw sends messages as they are)`,
    );
  }
  return out;
}

/** --raw: the ids when the text has them, nothing when it does not. */
function asIs(pieces: readonly Piece[]): Outgoing[] {
  return pieces.map((piece) => {
    let value: { id?: unknown; data?: { paymentIntentId?: unknown } } | undefined;
    try {
      value = JSON.parse(piece.text);
    } catch {
      value = undefined;
    }
    const pi = value?.data?.paymentIntentId;
    const id = value?.id;
    return {
      label: piece.label,
      body: piece.text,
      key: typeof pi === "string" && pi !== "" ? pi : null,
      eventId: typeof id === "string" && id !== "" ? id : undefined,
    };
  });
}

const plural = (n: number) => (n === 1 ? "1 event" : `${n} events`);

async function sendToKafka(
  messages: readonly Outgoing[],
  options: Options,
  env: Env,
  io: CliIo,
): Promise<string> {
  const settings = kafkaSettings(
    env,
    ["KAFKA_INPUT_TOPIC"],
    { variable: "KAFKA_INPUT_TOPIC", option: "--topic", value: options.topic },
    (warning) => io.stderr.write(`warning: ${warning}\n`),
  );
  const topic = settings.inputTopic;
  const where = `Kafka topic ${topic} (${settings.brokers.join(",")})`;
  if (options.dryRun) return where;
  const { Partitioners } = await import("kafkajs");
  const kafka = await cliKafka(settings, io.stderr);
  // No topic is created by sending to it: a mistyped name is an error, not a new topic.
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    try {
      await producer.connect();
    } catch (error) {
      throw new CommandError(
        EXIT_FAILURE,
        `cannot reach Kafka at ${settings.brokers.join(",")}: ${describeError(error)}`,
      );
    }
    const headers = { "content-type": CONTENT_TYPE };
    let sent = 0;
    for (let i = 0; i < messages.length; i += 500) {
      const chunk = messages.slice(i, i + 500);
      try {
        await producer.send({
          topic,
          messages: chunk.map((m) => ({ key: m.key, value: m.body, headers })),
        });
      } catch (error) {
        const why = isUnknownTopic(error)
          ? `topic ${topic} does not exist (the relay creates its topics with KAFKA_CREATE_TOPICS=true)`
          : describeError(error);
        const done = sent === 0 ? "nothing sent" : `the first ${plural(sent)} were sent`;
        throw new CommandError(EXIT_FAILURE, `could not send to ${where}: ${why}; ${done}`);
      }
      sent += chunk.length;
    }
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  return where;
}

/** SendMessageBatch takes ten messages and 256 KiB in all; a margin covers the attributes. */
const BATCH_BYTES = 262_144 - 8_192;

function batchesOf(messages: readonly Outgoing[]): Outgoing[][] {
  const batches: Outgoing[][] = [];
  let current: Outgoing[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = Buffer.byteLength(m.body, "utf8") + 64;
    if (current.length === 10 || (current.length > 0 && bytes + size > BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

async function sendToSqs(messages: readonly Outgoing[], options: Options, env: Env): Promise<string> {
  const settings = sqsSettings(env, ["SQS_INPUT_QUEUE_URL"], {
    variable: "SQS_INPUT_QUEUE_URL",
    option: "--queue-url",
    value: options.queueUrl,
  });
  const url = settings.inputQueueUrl;
  const where = `SQS queue ${url}`;
  if (options.dryRun) return where;
  const [{ SendMessageBatchCommand }, { fifoId, isFifoQueue }] = await Promise.all([
    import("@aws-sdk/client-sqs"),
    import("../../consumers/sqs/fifo-ids.ts"),
  ]);
  const fifo = isFifoQueue(url);
  const client = await cliSqs(settings);
  let sent = 0;
  try {
    for (const batch of batchesOf(messages)) {
      const entries = batch.map((m, i) => ({
        Id: String(i),
        MessageBody: m.body,
        ...(isSnsNotification(safeJson(m.body))
          ? {}
          : { MessageAttributes: { "content-type": { DataType: "String", StringValue: CONTENT_TYPE } } }),
        ...(fifo
          ? {
              MessageGroupId: fifoId(m.key ?? "refund-relay-send"),
              MessageDeduplicationId:
                m.eventId === undefined
                  ? createHash("sha256").update(m.body).digest("hex")
                  : fifoId(m.eventId),
            }
          : {}),
      }));
      let failed: Array<{ Id?: string | undefined; Code?: string | undefined; Message?: string | undefined }>;
      try {
        const out = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
        failed = out.Failed ?? [];
      } catch (error) {
        const problem = sqsProblem(error, url);
        const reached = problem.code === EXIT_FAILURE && !/does not exist/.test(problem.message);
        const done = sent === 0 ? "nothing sent" : `the first ${plural(sent)} were sent`;
        const what = reached ? `could not send to ${where} at ${sqsTarget(settings)}` : "could not send";
        throw new CommandError(problem.code, `${what}: ${problem.message}; ${done}`);
      }
      if (failed.length > 0) {
        const lines = failed.map((f) => {
          const label = batch[Number(f.Id)]?.label ?? `entry ${f.Id}`;
          return `${label}: SQS refused it (${f.Code ?? "error"}: ${f.Message ?? "no reason given"})`;
        });
        const ok = sent + batch.length - failed.length;
        throw new CommandError(
          EXIT_FAILURE,
          `${lines.join("\n")}\n${plural(ok)} sent to ${where}, ${failed.length} refused`,
        );
      }
      sent += batch.length;
    }
  } finally {
    client.destroy();
  }
  return where;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function runSend(args: readonly string[], io: CliIo, env: Env = process.env): Promise<number> {
  try {
    const options = parseOptions(args, env);
    if (options === "help") {
      io.stdout.write(HELP);
      return EXIT_OK;
    }
    const text = await readInput(options.file, io.stdin);
    const pieces = piecesOf(text, options.file === "-" ? "stdin" : options.file, options.raw);
    if (pieces.length === 0) throw new CommandError(EXIT_USAGE, "no event in the input");
    const messages = options.raw ? asIs(pieces) : checked(pieces, options.transport);
    const send = options.transport === "kafka" ? sendToKafka : sendToSqs;
    if (options.dryRun) {
      const where = await send(messages, options, env, io);
      for (const m of messages) {
        const id = m.eventId === undefined ? "no event id" : `event ${m.eventId}`;
        io.stdout.write(`${m.label}: ${id}, ${m.key === null ? "no payment intent" : `key ${m.key}`}\n`);
      }
      io.stdout.write(`dry run: ${plural(messages.length)} would be sent to ${where}; nothing sent\n`);
      return EXIT_OK;
    }
    const where = await send(messages, options, env, io);
    io.stdout.write(`sent ${plural(messages.length)} to ${where}\n`);
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    io.stderr.write(`refund-relay send: ${error.message}\n${error.showHelp ? `\n${HELP}` : ""}`);
    return error.code;
  }
}

export const sendCommand: Subcommand = {
  summary: "publish return.approved events to the relay's input topic or queue",
  run: (args, io) => runSend(args, io),
};
