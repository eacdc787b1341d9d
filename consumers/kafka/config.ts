// Kafka's part of the configuration (RELAY_SOURCE=kafka): its variables and the settings built from
// them. src/config.ts composes it with the core's settings and the other transports'.
import { hostname } from "node:os";
import { z } from "zod";
import {
  bool,
  type FragmentContext,
  int,
  optionalText,
  Secret,
  type TransportFragment,
  text,
} from "../../src/config-parts.ts";

const topic = (fallback: string) =>
  text(fallback)
    .pipe(
      z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, "must be a Kafka topic name ([A-Za-z0-9._-], 1-249 chars)"),
    )
    .meta({ format: "topic name" });

const KafkaVariables = z.object({
  KAFKA_BROKERS: optionalText.meta({
    description: "The brokers to bootstrap from, comma-separated.",
    format: "`host:port,…`",
    example: "kafka-1:9092,kafka-2:9092",
    defaultText: "required",
  }),
  KAFKA_CLIENT_ID: text("refund-relay").meta({ description: "kafkajs client id, as the brokers log it." }),
  KAFKA_GROUP_ID: text("refund-relay").meta({
    description: "Consumer group; every instance of one relay deployment uses the same.",
  }),
  KAFKA_INPUT_TOPIC: topic("return.approved").meta({
    description: "Topic of the `return.approved` events consumed.",
  }),
  KAFKA_SUCCEEDED_TOPIC: topic("refund.succeeded").meta({ description: "Topic of successful outcomes." }),
  KAFKA_FAILED_TOPIC: topic("refund.failed").meta({ description: "Topic of definitive failures." }),
  KAFKA_DLQ_TOPIC: topic("return.approved.dlq").meta({
    description: "Dead-letter topic: unparseable events and events parked for a person.",
  }),
  KAFKA_TRANSACTIONAL: bool(false).meta({
    description: "Publish outcomes and commit offsets in one Kafka transaction.",
  }),
  KAFKA_TRANSACTIONAL_ID: optionalText.meta({
    description:
      "Transactional id; must differ between instances (two sharing one fence each other) and stay the same across restarts of one.",
    defaultText: "`<KAFKA_GROUP_ID>-<hostname>`",
  }),
  KAFKA_SSL: bool(false).meta({ description: "TLS to the brokers." }),
  KAFKA_SSL_CA_FILE: optionalText.meta({
    description: "PEM certificates to trust for the brokers (with `KAFKA_SSL=true`).",
    format: "path",
  }),
  KAFKA_SSL_CERT_FILE: optionalText.meta({
    description: "PEM client certificate for mutual TLS (with `KAFKA_SSL=true`).",
    format: "path",
  }),
  KAFKA_SSL_KEY_FILE: optionalText.meta({
    description: "PEM private key of the client certificate; read into a secret, never logged.",
    format: "path",
  }),
  KAFKA_SSL_REJECT_UNAUTHORIZED: bool(true).meta({
    description: "Refuse brokers whose certificate does not verify; `false` only for a test setup.",
  }),
  KAFKA_SASL_MECHANISM: z
    .enum(["plain", "scram-sha-256", "scram-sha-512"], {
      error: "must be plain, scram-sha-256 or scram-sha-512",
    })
    .optional()
    .meta({ description: "SASL authentication, with `KAFKA_SASL_USERNAME` and `KAFKA_SASL_PASSWORD`." }),
  KAFKA_SASL_USERNAME: optionalText.meta({ description: "SASL user name (with `KAFKA_SASL_MECHANISM`)." }),
  KAFKA_SASL_PASSWORD: optionalText.meta({
    description: "SASL password (with `KAFKA_SASL_MECHANISM`).",
    secret: true,
  }),
  KAFKA_MAX_IN_FLIGHT_PER_PARTITION: int(64, 1, 100_000).meta({
    description:
      "Fetched but unsettled messages per partition at which the relay takes no more from it (not even the rest of a fetched batch, which is fetched again later) and pauses it until half have settled. Bounds the relay's memory under a backlog; also sizes each fetch, 256 bytes per message (16 KiB to 1 MiB per partition). An instance works on at most its partitions times this many events at once (and `MAX_IN_FLIGHT`): with few partitions and a slow Dojo, raise it (for example 250 with 2 partitions and Dojo answering in 300 ms allows about 1,600 events/s; 64 about 400).",
  }),
  KAFKA_FROM_BEGINNING: bool(true).meta({
    description:
      "Where a group with no committed offsets starts: the earliest retained event (nothing approved before the first start is missed; events the ledger knows are answered from it), or with `false` only new events.",
  }),
  KAFKA_FETCH_MAX_WAIT_MS: int(100, 10, 10_000).meta({
    description:
      "Longest wait of one fetch for new records; also how long the consumer idles whenever none of a broker's assigned partitions can be fetched (all paused for backpressure, for example), so keep it short (kafkajs defaults to 5000).",
    unit: "ms",
  }),
  KAFKA_TOPIC_CHECK_MS: int(5_000, 500, 600_000).meta({
    description:
      "How often the input topic's offsets are compared with what was read, to catch a topic deleted and recreated or a log truncated below the consumer's position (the relay then exits 3 rather than skip or re-read events silently).",
    unit: "ms",
  }),
  KAFKA_SESSION_TIMEOUT_MS: int(30_000, 6_000, 300_000).meta({
    description:
      "How long the group waits for a silent member before moving its partitions (the broker's own group limits apply too).",
    unit: "ms",
  }),
  KAFKA_CREATE_TOPICS: bool(false).meta({
    description: "Create missing topics at start-up; otherwise the relay refuses to start and names them.",
  }),
});

type KafkaEnv = z.output<typeof KafkaVariables>;

export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  readonly inputTopic: string;
  readonly succeededTopic: string;
  readonly failedTopic: string;
  readonly dlqTopic: string;
  readonly transactional: boolean;
  readonly transactionalId: string;
  readonly maxInFlightPerPartition: number;
  /** How long the group waits for a silent member (a crashed relay) before handing its partitions on. */
  readonly sessionTimeoutMs: number;
  /** How long a fetch waits for data, and how long the consumer idles when every partition is paused. */
  readonly fetchMaxWaitMs: number;
  /** How often the input topic is checked for offsets that went backwards (deleted, recreated, truncated). */
  readonly topicCheckIntervalMs: number;
  /** Create missing topics at start-up instead of refusing to start. */
  readonly createTopics: boolean;
  /** Where a group without committed offsets starts: the earliest retained event, or only new ones. */
  readonly fromBeginning: boolean;
  readonly ssl:
    | false
    | {
        readonly ca?: string;
        readonly cert?: string;
        readonly key?: Secret;
        readonly rejectUnauthorized: boolean;
      };
  readonly sasl?: {
    readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
    readonly username: string;
    readonly password: Secret;
  };
}

function kafkaSettings(e: KafkaEnv, { problems, tryRead }: FragmentContext): KafkaSettings {
  const brokers = (e.KAFKA_BROKERS ?? "")
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "");
  if (brokers.length === 0) problems.push("KAFKA_BROKERS: required when RELAY_SOURCE=kafka (host:port,...)");
  for (const b of brokers)
    if (!/^[^\s:]+:\d{1,5}$/.test(b)) problems.push(`KAFKA_BROKERS: "${b}" is not host:port`);
  let sasl: KafkaSettings["sasl"];
  if (e.KAFKA_SASL_MECHANISM !== undefined) {
    if (e.KAFKA_SASL_USERNAME === undefined)
      problems.push("KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM");
    if (e.KAFKA_SASL_PASSWORD === undefined)
      problems.push("KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM");
    sasl = {
      mechanism: e.KAFKA_SASL_MECHANISM,
      username: e.KAFKA_SASL_USERNAME ?? "",
      password: new Secret(e.KAFKA_SASL_PASSWORD ?? ""),
    };
  }
  const ca = tryRead("KAFKA_SSL_CA_FILE", e.KAFKA_SSL_CA_FILE);
  const cert = tryRead("KAFKA_SSL_CERT_FILE", e.KAFKA_SSL_CERT_FILE);
  const key = tryRead("KAFKA_SSL_KEY_FILE", e.KAFKA_SSL_KEY_FILE);
  return {
    brokers,
    clientId: e.KAFKA_CLIENT_ID,
    groupId: e.KAFKA_GROUP_ID,
    inputTopic: e.KAFKA_INPUT_TOPIC,
    succeededTopic: e.KAFKA_SUCCEEDED_TOPIC,
    failedTopic: e.KAFKA_FAILED_TOPIC,
    dlqTopic: e.KAFKA_DLQ_TOPIC,
    transactional: e.KAFKA_TRANSACTIONAL,
    // Unique per instance (two instances sharing an id would fence each other), stable across restarts
    // of the same host so a restarted relay fences its own zombie.
    transactionalId: e.KAFKA_TRANSACTIONAL_ID ?? `${e.KAFKA_GROUP_ID}-${hostname()}`,
    maxInFlightPerPartition: e.KAFKA_MAX_IN_FLIGHT_PER_PARTITION,
    sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
    fetchMaxWaitMs: e.KAFKA_FETCH_MAX_WAIT_MS,
    topicCheckIntervalMs: e.KAFKA_TOPIC_CHECK_MS,
    createTopics: e.KAFKA_CREATE_TOPICS,
    fromBeginning: e.KAFKA_FROM_BEGINNING,
    ssl: e.KAFKA_SSL
      ? {
          rejectUnauthorized: e.KAFKA_SSL_REJECT_UNAUTHORIZED,
          ...(ca === undefined ? {} : { ca }),
          ...(cert === undefined ? {} : { cert }),
          ...(key === undefined ? {} : { key: new Secret(key) }),
        }
      : false,
    ...(sasl === undefined ? {} : { sasl }),
  };
}

export const KAFKA_CONFIG: TransportFragment<typeof KafkaVariables.shape, KafkaSettings> = {
  source: "kafka",
  variables: KafkaVariables,
  settings: kafkaSettings,
};
