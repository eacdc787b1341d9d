// `refund-relay tail [succeeded|failed|dlq|all]`: what the relay has published, one line per message:
// its outcomes (refund.succeeded, refund.failed) and its dead letters, read from the Kafka topics with a
// fresh consumer group of its own, or from the SQS queues without deleting (unless --delete).
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import type { SQSClient, Message as SqsMessage } from "@aws-sdk/client-sqs";
import type { KafkaSettings } from "../../consumers/kafka/config.ts";
import type { SqsSettings } from "../../consumers/sqs/config.ts";
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
import { formatMoney } from "./reconcile-outcome.ts";

const DEFAULT_VISIBILITY_S = 10;

const HELP = `usage: refund-relay tail [options] [succeeded|failed|dlq|all]

Prints what the relay published, one line per message: its outcomes (refund.succeeded on the
succeeded topic or queue, refund.failed on the failed one) and its dead letters (dlq). Default: all.
Each line shows the time the message was published, its type (the code for a failure or a dead
letter), the return.approved event id, the payment intent, the amount and the refund id, or the
failure's message. Runs until SIGINT or SIGTERM, --count or --timeout.

Kafka (RELAY_SOURCE=kafka, the default): reads the topics with a new consumer group of its own that
commits no offsets, so the relay's group and other readers are not affected; from the newest messages
on, or with --from-beginning from the oldest retained.

SQS (RELAY_SOURCE=sqs, or --sqs): an SQS queue has no read-only access; receiving a message is what
consuming it starts with. Without --delete, tail deletes nothing: it receives with a short visibility
timeout (--visibility, default ${DEFAULT_VISIBILITY_S} s), so a message it printed is hidden from the queue's other
consumers for that long, then received again by tail (not printed again) while it runs, and made
visible again when it stops. Every receive counts toward the message's receive count: on a queue with
a redrive policy, a long tail can move messages to that queue's dead-letter queue. On a FIFO queue only
the first ten messages of each message group can be seen without deleting the ones before them.
With --delete, tail consumes: each message is deleted once printed.

options:
  --json              one JSON object per line: the fields above, where the message was read, its
                      headers or attributes and its body
  --count N           stop after N messages (exit 1 if --timeout stops it first)
  --timeout S         stop after S seconds without a message
  --from-beginning    Kafka: from the oldest retained message, not only new ones
  --delete            SQS: delete each message once printed (consumes the queue)
  --visibility S      SQS: the visibility timeout of each receive without --delete (default ${DEFAULT_VISIBILITY_S})
  --kafka, --sqs      the transport, instead of RELAY_SOURCE
  -h, --help          this help

environment:
  RELAY_SOURCE                      kafka (default) or sqs
  KAFKA_BROKERS                     host:port,... (default ${DEFAULT_KAFKA_BROKERS})
  KAFKA_SUCCEEDED_TOPIC, KAFKA_FAILED_TOPIC, KAFKA_DLQ_TOPIC
                                    the topics (default refund.succeeded, refund.failed,
                                    return.approved.dlq)
  KAFKA_CLIENT_ID, KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE,
  KAFKA_SSL_REJECT_UNAUTHORIZED, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD
                                    connecting, as for \`refund-relay start\`
  SQS_SUCCEEDED_QUEUE_URL, SQS_FAILED_QUEUE_URL, SQS_DLQ_URL
                                    the queues (only those read are needed)
  SQS_ENDPOINT                      an SQS-compatible endpoint (ElasticMQ, LocalStack); unset for AWS
  AWS_REGION (or AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                                    region and credentials (else the AWS SDK's default providers)

exit status: 0 stopped by a signal, --count or --timeout; 1 the broker could not be reached, a topic
or queue does not exist, or --timeout came before --count messages; 2 usage or configuration error.
`;

type Stream = "succeeded" | "failed" | "dlq";
const STREAMS: readonly Stream[] = ["succeeded", "failed", "dlq"];

interface Options {
  readonly streams: readonly Stream[];
  readonly transport: TransportName;
  readonly json: boolean;
  readonly count: number | undefined;
  readonly timeoutS: number | undefined;
  readonly fromBeginning: boolean;
  readonly delete: boolean;
  readonly visibilityS: number;
}

const TAIL_OPTIONS = {
  json: { type: "boolean" },
  count: { type: "string" },
  timeout: { type: "string" },
  "from-beginning": { type: "boolean" },
  delete: { type: "boolean" },
  visibility: { type: "string" },
  kafka: { type: "boolean" },
  sqs: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function positiveNumber(option: string, text: string | undefined, integer: boolean, max: number) {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) {
    const what = integer ? "a positive integer" : "a positive number of seconds";
    throw new CommandError(EXIT_USAGE, `--${option} must be ${what} up to ${max}, got "${text}"`, true);
  }
  return n;
}

function parseOptions(args: readonly string[], env: Env): Options | "help" {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof TAIL_OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options: TAIL_OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new CommandError(EXIT_USAGE, (error as Error).message, true);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return "help";
  const streams = new Set<Stream>();
  for (const p of positionals.length === 0 ? ["all"] : positionals) {
    if (p === "all") for (const s of STREAMS) streams.add(s);
    else if ((STREAMS as readonly string[]).includes(p)) streams.add(p as Stream);
    else throw new CommandError(EXIT_USAGE, `unknown stream "${p}": say succeeded, failed, dlq or all`, true);
  }
  const transport = pickTransport(values, env);
  if (transport === "kafka" && (values.delete === true || values.visibility !== undefined)) {
    throw new CommandError(EXIT_USAGE, "--delete and --visibility are for SQS", true);
  }
  if (transport === "sqs" && values["from-beginning"] === true) {
    throw new CommandError(EXIT_USAGE, "--from-beginning is for Kafka (an SQS queue is read as it is)", true);
  }
  if (values.delete === true && values.visibility !== undefined) {
    throw new CommandError(EXIT_USAGE, "--visibility is for reading without --delete", true);
  }
  return {
    streams: STREAMS.filter((s) => streams.has(s)),
    transport,
    json: values.json === true,
    count: positiveNumber("count", values.count, true, 1_000_000_000),
    timeoutS: positiveNumber("timeout", values.timeout, false, 86_400),
    fromBeginning: values["from-beginning"] === true,
    delete: values.delete === true,
    visibilityS: positiveNumber("visibility", values.visibility, true, 43_200) ?? DEFAULT_VISIBILITY_S,
  };
}

/** One message as read, before it is understood. */
export interface Received {
  readonly stream: Stream;
  /** When it was published (Kafka timestamp, SQS SentTimestamp), in ms. */
  readonly timestamp: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  /** Kafka key, or SQS message group. */
  readonly key: string | null;
  readonly where: Readonly<Record<string, string | number>>;
}

interface Money {
  readonly value: number;
  readonly currencyCode: string;
}

/** What tail prints of a message. */
export interface TailRecord {
  readonly time: string | undefined;
  readonly stream: Stream;
  /** refund.succeeded, refund.failed (or another CloudEvents type found there), dead-letter. */
  readonly type: string;
  /** The failure code of a refund.failed, or why a message was dead-lettered. */
  readonly code?: string;
  readonly message?: string;
  /** The return.approved event's id. */
  readonly eventId?: string;
  readonly outcomeId?: string;
  readonly paymentIntentId?: string;
  readonly amount?: Money;
  readonly refundId?: string;
}

type Json = Record<string, unknown>;

const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function parseJson(body: string | null | undefined): unknown {
  if (body === null || body === undefined) return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function moneyOf(v: unknown): Money | undefined {
  if (!isRecord(v) || typeof v.value !== "number" || typeof v.currencyCode !== "string") return undefined;
  return { value: v.value, currencyCode: v.currencyCode };
}

/** A CloudEvent in structured mode (the body), or binary mode (ce_* headers, the body is its data). */
function cloudEventOf(headers: Readonly<Record<string, string>>, body: unknown): Json | undefined {
  if (headers.ce_type !== undefined || headers.ce_specversion !== undefined) {
    return {
      id: headers.ce_id,
      type: headers.ce_type,
      time: headers.ce_time,
      subject: headers.ce_subject,
      data: body,
    };
  }
  return isRecord(body) ? body : undefined;
}

function outcomeRecord(m: Received, time: string | undefined): TailRecord {
  const event = cloudEventOf(m.headers, parseJson(m.body));
  if (event === undefined) {
    return {
      time,
      stream: m.stream,
      type: "unreadable",
      message: `not a CloudEvent: ${(m.body ?? "(no body)").slice(0, 200)}`,
    };
  }
  const data = isRecord(event.data) ? event.data : {};
  const sourceEvent = isRecord(data.sourceEvent) ? data.sourceEvent : {};
  return compact({
    time: time ?? text(event.time),
    stream: m.stream,
    type: text(event.type) ?? "unknown",
    code: text(data.code),
    message: text(data.message),
    eventId: text(sourceEvent.id),
    outcomeId: text(event.id),
    paymentIntentId: text(data.paymentIntentId) ?? text(event.subject),
    amount: moneyOf(data.amount),
    refundId: text(data.refundId),
  });
}

/**
 * A dead letter: on Kafka the original message with rr-* headers (consumers/kafka/sink.ts); on SQS a
 * JSON envelope around it (consumers/sqs/dead-letter.ts). Anything else found there (a message moved
 * by a redrive policy, say) is shown with what can be read of it.
 */
function deadLetterRecord(m: Received, time: string | undefined): TailRecord {
  const envelope = parseJson(m.body);
  let code = text(m.headers["rr-error-code"]);
  let message = text(m.headers["rr-error-message"]);
  let eventId = text(m.headers["rr-event-id"]);
  let originalHeaders: Readonly<Record<string, string>> = m.headers;
  let original: unknown = envelope;
  if (isRecord(envelope) && isRecord(envelope.deadLetter) && isRecord(envelope.original)) {
    code = text(envelope.deadLetter.code) ?? code;
    message = text(envelope.deadLetter.message) ?? message;
    eventId = text(envelope.deadLetter.eventId) ?? eventId;
    const attributes = envelope.original.attributes;
    originalHeaders = isRecord(attributes)
      ? (Object.fromEntries(Object.entries(attributes).filter(([, v]) => typeof v === "string")) as Record<
          string,
          string
        >)
      : {};
    original = parseJson(text(envelope.original.body));
  }
  const event = cloudEventOf(originalHeaders, original);
  const data = event !== undefined && isRecord(event.data) ? event.data : {};
  return compact({
    time,
    stream: m.stream,
    type: "dead-letter",
    code,
    message,
    eventId: eventId ?? text(event?.id),
    outcomeId: undefined,
    paymentIntentId: text(data.paymentIntentId) ?? text(event?.subject) ?? m.key ?? undefined,
    amount: moneyOf(data.amount),
    refundId: undefined,
  });
}

/** A record from fields some of which are unknown (left out). */
function compact(o: { [K in keyof TailRecord]-?: TailRecord[K] | undefined }): TailRecord {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as TailRecord;
}

export function recordOf(m: Received): TailRecord {
  const time = m.timestamp === undefined ? undefined : new Date(m.timestamp).toISOString();
  return m.stream === "dlq" ? deadLetterRecord(m, time) : outcomeRecord(m, time);
}

/** One readable line. */
export function lineOf(r: TailRecord): string {
  const kind = r.type === "refund.succeeded" || r.code === undefined ? r.type : `${r.type} ${r.code}`;
  const parts = [
    r.time ?? "-",
    kind,
    `event=${r.eventId ?? "-"}`,
    `intent=${r.paymentIntentId ?? "-"}`,
    `amount=${r.amount === undefined ? "-" : formatMoney(r.amount.value, r.amount.currencyCode)}`,
  ];
  if (r.refundId !== undefined) parts.push(`refund=${r.refundId}`);
  if (r.message !== undefined) parts.push(JSON.stringify(r.message));
  return parts.join("  ");
}

function bodyForJson(body: string | null): unknown {
  if (body === null) return null;
  return parseJson(body) ?? body;
}

/** Stops the tail: a signal, enough messages, no message for a while, or an error. */
class Run {
  readonly done: Promise<number>;
  printed = 0;
  readonly #io: CliIo;
  readonly #o: Options;
  #finish!: (code: number) => void;
  #idle: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(io: CliIo, options: Options, signal: AbortSignal | undefined) {
    this.#io = io;
    this.#o = options;
    this.done = new Promise((resolve) => {
      this.#finish = resolve;
    });
    if (signal?.aborted) this.stop(EXIT_OK);
    signal?.addEventListener("abort", () => this.stop(EXIT_OK), { once: true });
    // A reader that went away (tail | head) ends the tail, not the process.
    io.stdout.on("error", () => this.stop(EXIT_OK));
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** (Re)starts the idle timer. */
  idle(): void {
    const timeoutS = this.#o.timeoutS;
    if (timeoutS === undefined || this.stopped) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      const count = this.#o.count;
      if (count !== undefined && this.printed < count) {
        this.fail(
          new CommandError(
            EXIT_FAILURE,
            `${this.printed} of ${count} messages before ${timeoutS} s without one (--timeout)`,
          ),
        );
      } else {
        this.stop(EXIT_OK);
      }
    }, timeoutS * 1000);
  }

  /** Whether another message may be printed. */
  get wanted(): boolean {
    return !this.stopped && (this.#o.count === undefined || this.printed < this.#o.count);
  }

  print(m: Received): void {
    const record = recordOf(m);
    if (this.#o.json) {
      const { headers, body, where, key } = m;
      const full = {
        ...record,
        ...where,
        ...(key === null ? {} : { key }),
        headers,
        body: bodyForJson(body),
      };
      this.#io.stdout.write(`${JSON.stringify(full)}\n`);
    } else {
      this.#io.stdout.write(`${lineOf(record)}\n`);
    }
    this.printed += 1;
    if (this.#o.count !== undefined && this.printed >= this.#o.count) this.stop(EXIT_OK);
    else this.idle();
  }

  stop(code: number): void {
    if (this.stopped) return;
    clearTimeout(this.#idle);
    this.#stopped = true;
    this.#finish(code);
  }

  fail(error: unknown): void {
    if (this.stopped) return;
    const problem =
      error instanceof CommandError ? error : new CommandError(EXIT_FAILURE, describeError(error));
    this.#io.stderr.write(`refund-relay tail: ${problem.message}\n`);
    this.stop(problem.code);
  }
}

const KAFKA_TOPIC_VARIABLES: Record<Stream, string> = {
  succeeded: "KAFKA_SUCCEEDED_TOPIC",
  failed: "KAFKA_FAILED_TOPIC",
  dlq: "KAFKA_DLQ_TOPIC",
};

function topicOf(settings: KafkaSettings, stream: Stream): string {
  if (stream === "succeeded") return settings.succeededTopic;
  return stream === "failed" ? settings.failedTopic : settings.dlqTopic;
}

async function tailKafka(options: Options, env: Env, io: CliIo, run: Run): Promise<void> {
  const settings = kafkaSettings(
    env,
    options.streams.map((s) => KAFKA_TOPIC_VARIABLES[s]),
    undefined,
    (warning) => io.stderr.write(`warning: ${warning}\n`),
  );
  const streamOf = new Map(options.streams.map((s) => [topicOf(settings, s), s]));
  const topics = [...streamOf.keys()];
  const [kafka, { headersToRecord }] = await Promise.all([
    cliKafka(settings, io.stderr),
    import("../../consumers/kafka/headers.ts"),
  ]);
  const consumer = kafka.consumer({
    groupId: `refund-relay-tail-${hostname()}-${randomUUID().slice(0, 8)}`,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 250,
  });
  const brokers = settings.brokers.join(",");
  try {
    try {
      await consumer.connect();
    } catch (error) {
      throw new CommandError(EXIT_FAILURE, `cannot reach Kafka at ${brokers}: ${describeError(error)}`);
    }
    try {
      await consumer.subscribe({ topics, fromBeginning: options.fromBeginning });
    } catch (error) {
      if (!isUnknownTopic(error)) throw new CommandError(EXIT_FAILURE, describeError(error));
      const missing = await missingTopics(kafka, topics);
      const named = missing.length > 0 ? missing.join(", ") : topics.join(", ");
      throw new CommandError(EXIT_FAILURE, `no such topic at ${brokers}: ${named}`);
    }
    consumer.on(consumer.events.GROUP_JOIN, () => run.idle());
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) run.fail(new CommandError(EXIT_FAILURE, describeError(payload.error)));
    });
    if (run.stopped) return;
    await consumer.run({
      // The group is this tail's alone: nothing to remember for next time.
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        if (!run.wanted) return;
        run.print({
          stream: streamOf.get(topic) ?? "dlq",
          timestamp: Number(message.timestamp),
          headers: headersToRecord(message.headers),
          body: message.value === null ? null : message.value.toString("utf8"),
          key: message.key === null ? null : message.key.toString("utf8"),
          where: { topic, partition, offset: message.offset },
        });
      },
    });
    run.idle();
    await run.done;
  } catch (error) {
    run.fail(error);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

async function missingTopics(kafka: import("kafkajs").Kafka, topics: readonly string[]): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    return topics.filter((t) => !existing.has(t));
  } catch {
    return [];
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

const SQS_QUEUE_VARIABLES: Record<Stream, string> = {
  succeeded: "SQS_SUCCEEDED_QUEUE_URL",
  failed: "SQS_FAILED_QUEUE_URL",
  dlq: "SQS_DLQ_URL",
};

function queueOf(settings: SqsSettings, stream: Stream): string {
  if (stream === "succeeded") return settings.succeededQueueUrl;
  return stream === "failed" ? settings.failedQueueUrl : settings.dlqUrl;
}

/** A message tail received and has not deleted: its latest receipt, valid until `until` (ms). */
interface Held {
  receipt: string;
  until: number;
}

/**
 * How long one receive waits for messages. Short, because a receive is never cut off: SQS would go on
 * waiting for the abandoned call and hand it a message that then stays hidden for the visibility
 * timeout, where no one can release it. So a stop waits for the receives in flight, and releases what
 * they bring back.
 */
const RECEIVE_WAIT_S = 1;

/** Reads one queue until the run stops. */
class QueueReader {
  readonly #client: SQSClient;
  readonly #sqs: typeof import("@aws-sdk/client-sqs");
  readonly #url: string;
  readonly #stream: Stream;
  readonly #o: Options;
  readonly #run: Run;
  /** Messages printed (by id), so one received again is not printed again. */
  readonly #printed = new Set<string>();
  readonly #held = new Map<string, Held>();

  constructor(
    client: SQSClient,
    sqs: typeof import("@aws-sdk/client-sqs"),
    url: string,
    stream: Stream,
    o: Options,
    run: Run,
  ) {
    this.#client = client;
    this.#sqs = sqs;
    this.#url = url;
    this.#stream = stream;
    this.#o = o;
    this.#run = run;
  }

  async read(): Promise<void> {
    while (this.#run.wanted) {
      let messages: SqsMessage[];
      const receivedAt = Date.now();
      try {
        const out = await this.#client.send(
          new this.#sqs.ReceiveMessageCommand({
            QueueUrl: this.#url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: RECEIVE_WAIT_S,
            ...(this.#o.delete ? {} : { VisibilityTimeout: this.#o.visibilityS }),
            MessageAttributeNames: ["All"],
            MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount", "MessageGroupId"],
          }),
        );
        messages = out.Messages ?? [];
      } catch (error) {
        throw sqsProblem(error, this.#url);
      }
      const printed: SqsMessage[] = [];
      const notWanted: SqsMessage[] = [];
      for (const m of messages) {
        const id = m.MessageId ?? "";
        if (this.#printed.has(id) || !this.#run.wanted) {
          if (this.#printed.has(id) && !this.#o.delete) this.#hold(m, receivedAt);
          else notWanted.push(m);
          continue;
        }
        this.#printed.add(id);
        this.#run.print(this.#received(m));
        printed.push(m);
      }
      if (this.#o.delete) await this.#batch("delete", printed);
      else for (const m of printed) this.#hold(m, receivedAt);
      // Received after --count was reached (or already printed and deleted): back to the queue at once.
      await this.#batch("release", notWanted);
    }
  }

  /** Makes what tail still holds visible again. */
  async release(): Promise<void> {
    const now = Date.now();
    const live = [...this.#held].filter(([, h]) => h.until > now + 500);
    this.#held.clear();
    await this.#batch(
      "release",
      live.map(([id, h]) => ({ MessageId: id, ReceiptHandle: h.receipt })),
    );
  }

  #hold(m: SqsMessage, receivedAt: number): void {
    if (m.MessageId === undefined || m.ReceiptHandle === undefined) return;
    this.#held.set(m.MessageId, {
      receipt: m.ReceiptHandle,
      until: receivedAt + this.#o.visibilityS * 1000,
    });
  }

  async #batch(action: "delete" | "release", messages: readonly SqsMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const entries = messages.slice(i, i + 10).map((m, j) => ({
        Id: String(j),
        ReceiptHandle: m.ReceiptHandle ?? "",
      }));
      const command =
        action === "delete"
          ? new this.#sqs.DeleteMessageBatchCommand({ QueueUrl: this.#url, Entries: entries })
          : new this.#sqs.ChangeMessageVisibilityBatchCommand({
              QueueUrl: this.#url,
              Entries: entries.map((e) => ({ ...e, VisibilityTimeout: 0 })),
            });
      let failed: number;
      try {
        failed = ((await this.#client.send(command)).Failed ?? []).length;
      } catch (error) {
        failed = entries.length;
        if (action === "delete") throw sqsProblem(error, this.#url);
      }
      if (failed > 0 && action === "delete") {
        throw new CommandError(
          EXIT_FAILURE,
          `SQS did not delete ${failed} printed message(s) from ${this.#url}`,
        );
      }
    }
  }

  #received(m: SqsMessage): Received {
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(m.MessageAttributes ?? {})) {
      if (value.StringValue !== undefined) attributes[name] = value.StringValue;
    }
    const system = m.Attributes ?? {};
    const sent = Number(system.SentTimestamp);
    const group = system.MessageGroupId;
    return {
      stream: this.#stream,
      timestamp: Number.isFinite(sent) && sent > 0 ? sent : undefined,
      headers: attributes,
      body: m.Body ?? null,
      key: group ?? null,
      where: {
        queueUrl: this.#url,
        messageId: m.MessageId ?? "",
        receiveCount: Number(system.ApproximateReceiveCount ?? 0),
      },
    };
  }
}

async function tailSqs(options: Options, env: Env, run: Run): Promise<void> {
  const settings = sqsSettings(
    env,
    options.streams.map((s) => SQS_QUEUE_VARIABLES[s]),
  );
  const sqs = await import("@aws-sdk/client-sqs");
  const client = await cliSqs(settings);
  const readers: QueueReader[] = [];
  try {
    const urls = options.streams.map((s) => [s, queueOf(settings, s)] as const);
    // Every queue is there and answers before anything is received.
    for (const [, url] of urls) {
      try {
        await client.send(new sqs.GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }));
      } catch (error) {
        const problem = sqsProblem(error, url);
        if (problem.code !== EXIT_FAILURE || /does not exist/.test(problem.message)) throw problem;
        throw new CommandError(
          EXIT_FAILURE,
          `cannot reach SQS at ${sqsTarget(settings)}: ${problem.message}`,
        );
      }
    }
    for (const [stream, url] of urls) readers.push(new QueueReader(client, sqs, url, stream, options, run));
    run.idle();
    const reading = readers.map((r) => r.read().catch((error: unknown) => run.fail(error)));
    await run.done;
    await Promise.all(reading);
  } catch (error) {
    run.fail(error);
  } finally {
    await Promise.all(readers.map((r) => r.release().catch(() => undefined)));
    client.destroy();
  }
}

export interface TailContext {
  readonly env?: Env;
  /** Stops the tail as SIGINT or SIGTERM does (the command itself listens for those). */
  readonly signal?: AbortSignal;
}

export async function runTail(
  args: readonly string[],
  io: CliIo,
  context: TailContext = {},
): Promise<number> {
  const env = context.env ?? process.env;
  let options: Options | "help";
  try {
    options = parseOptions(args, env);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    io.stderr.write(`refund-relay tail: ${error.message}\n${error.showHelp ? `\n${HELP}` : ""}`);
    return error.code;
  }
  if (options === "help") {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  const run = new Run(io, options, context.signal);
  try {
    if (options.transport === "kafka") await tailKafka(options, env, io, run);
    else await tailSqs(options, env, run);
  } catch (error) {
    run.fail(error);
  }
  return run.done;
}

export const tailCommand: Subcommand = {
  summary: "print the relay's outcomes and dead letters as they are published",
  async run(args, io) {
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      return await runTail(args, io, { signal: stop.signal });
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};
