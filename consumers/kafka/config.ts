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
  text(fallback).pipe(
    z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, "must be a Kafka topic name ([A-Za-z0-9._-], 1-249 chars)"),
  );

const KafkaVariables = z.object({
  KAFKA_BROKERS: optionalText,
  KAFKA_CLIENT_ID: text("refund-relay"),
  KAFKA_GROUP_ID: text("refund-relay"),
  KAFKA_INPUT_TOPIC: topic("return.approved"),
  KAFKA_SUCCEEDED_TOPIC: topic("refund.succeeded"),
  KAFKA_FAILED_TOPIC: topic("refund.failed"),
  KAFKA_DLQ_TOPIC: topic("return.approved.dlq"),
  KAFKA_TRANSACTIONAL: bool(false),
  KAFKA_TRANSACTIONAL_ID: optionalText,
  KAFKA_SSL: bool(false),
  KAFKA_SSL_CA_FILE: optionalText,
  KAFKA_SSL_CERT_FILE: optionalText,
  KAFKA_SSL_KEY_FILE: optionalText,
  KAFKA_SSL_REJECT_UNAUTHORIZED: bool(true),
  KAFKA_SASL_MECHANISM: z
    .enum(["plain", "scram-sha-256", "scram-sha-512"], {
      error: "must be plain, scram-sha-256 or scram-sha-512",
    })
    .optional(),
  KAFKA_SASL_USERNAME: optionalText,
  KAFKA_SASL_PASSWORD: optionalText,
  KAFKA_MAX_IN_FLIGHT_PER_PARTITION: int(250, 1, 100_000),
  KAFKA_FROM_BEGINNING: bool(true),
  KAFKA_FETCH_MAX_WAIT_MS: int(100, 10, 10_000),
  KAFKA_TOPIC_CHECK_MS: int(5_000, 500, 600_000),
  KAFKA_SESSION_TIMEOUT_MS: int(30_000, 6_000, 300_000),
  KAFKA_CREATE_TOPICS: bool(false),
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
