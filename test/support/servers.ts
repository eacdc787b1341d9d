// Decides where integration tests find Kafka, the SQS endpoint and PostgreSQL. In order:
//   1. KAFKA_BROKERS, SQS_ENDPOINT and DATABASE_URL, when set (each independently);
//   2. otherwise, when a Docker engine answers, containers started with testcontainers;
//   3. otherwise, when java and mvn exist, scripts/brokers.sh (Kafka + ElasticMQ on 127.0.0.1) and the
//      PostgreSQL server on 127.0.0.1:5432;
//   4. otherwise one error that names every way to provide them.
// Integration tests never skip themselves: a missing server fails the run.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const brokersScript = fileURLToPath(new URL("../../scripts/brokers.sh", import.meta.url));

export const LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";

export interface TestServers {
  readonly kafkaBrokers: readonly string[];
  readonly sqsEndpoint: string;
  readonly databaseUrl: string;
  /** Where each server came from, for the log line at the start of a run. */
  readonly origin: string;
}

export interface StartedTestServers {
  readonly servers: TestServers;
  stop(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

const nonEmpty = (value: string | undefined): string | undefined =>
  value !== undefined && value.trim() !== "" ? value.trim() : undefined;

export function parseBrokers(list: string): string[] {
  return list
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "");
}

async function commandExists(name: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export const NO_SERVERS_MESSAGE = [
  "Integration tests need Kafka, an SQS endpoint and PostgreSQL. Provide them in one of these ways:",
  "  - set KAFKA_BROKERS, SQS_ENDPOINT and DATABASE_URL to running servers;",
  "  - run a Docker engine (testcontainers starts Kafka, ElasticMQ and PostgreSQL);",
  "  - install Java 17+ and Maven (scripts/brokers.sh starts Kafka and ElasticMQ on 127.0.0.1) and run",
  `    PostgreSQL on 127.0.0.1:5432 (or set DATABASE_URL; default ${LOCAL_DATABASE_URL}).`,
].join("\n");

async function startWithContainers(need: { kafka: boolean; sqs: boolean; db: boolean }) {
  const { GenericContainer, Wait } = await import("testcontainers");
  const stops: Array<() => Promise<unknown>> = [];
  const found: { kafka?: string[]; sqs?: string; db?: string } = {};
  if (need.kafka) {
    const { KafkaContainer } = await import("@testcontainers/kafka");
    const kafka = await new KafkaContainer("confluentinc/cp-kafka:7.9.0").withKraft().start();
    stops.push(() => kafka.stop());
    found.kafka = [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`];
  }
  if (need.sqs) {
    const sqs = await new GenericContainer("softwaremill/elasticmq-native:1.6.16")
      .withExposedPorts(9324)
      .withWaitStrategy(Wait.forListeningPorts())
      .start();
    stops.push(() => sqs.stop());
    found.sqs = `http://${sqs.getHost()}:${sqs.getMappedPort(9324)}`;
  }
  if (need.db) {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const pg = await new PostgreSqlContainer("postgres:17-alpine").start();
    stops.push(() => pg.stop());
    found.db = pg.getConnectionUri();
  }
  return { found, stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

async function startLocalBrokers(): Promise<{ kafka: string[]; sqs: string; stop: () => Promise<void> }> {
  let alreadyRunning = false;
  try {
    await run("bash", [brokersScript, "status"], { cwd: repoRoot });
    alreadyRunning = true;
  } catch {
    // status exits non-zero when something is stopped: start both below.
  }
  if (!alreadyRunning) {
    try {
      await run("bash", [brokersScript, "start"], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new Error(`scripts/brokers.sh start failed:\n${stderr}`);
    }
  }
  const { stdout } = await run("bash", [brokersScript, "env"], { cwd: repoRoot });
  const env = Object.fromEntries(
    stdout
      .split("\n")
      .map((line) => /^export (\w+)=(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  return {
    kafka: parseBrokers(env.KAFKA_BROKERS ?? ""),
    sqs: env.SQS_ENDPOINT ?? "",
    // Brokers that were running before the tests are left running for the next run.
    stop: alreadyRunning ? async () => {} : async () => void (await run("bash", [brokersScript, "stop"])),
  };
}

export async function startTestServers(env: Env = process.env): Promise<StartedTestServers> {
  const kafkaEnv = nonEmpty(env.KAFKA_BROKERS);
  const sqsEnv = nonEmpty(env.SQS_ENDPOINT);
  const dbEnv = nonEmpty(env.DATABASE_URL);
  if (kafkaEnv !== undefined && sqsEnv !== undefined && dbEnv !== undefined) {
    return {
      servers: {
        kafkaBrokers: parseBrokers(kafkaEnv),
        sqsEndpoint: sqsEnv,
        databaseUrl: dbEnv,
        origin: "env",
      },
      stop: async () => {},
    };
  }
  const need = { kafka: kafkaEnv === undefined, sqs: sqsEnv === undefined, db: dbEnv === undefined };
  if (env.REFUND_RELAY_TEST_SERVERS !== "local" && (await dockerAnswers())) {
    const { found, stop } = await startWithContainers(need);
    return {
      servers: {
        kafkaBrokers: kafkaEnv !== undefined ? parseBrokers(kafkaEnv) : (found.kafka ?? []),
        sqsEndpoint: sqsEnv ?? found.sqs ?? "",
        databaseUrl: dbEnv ?? found.db ?? "",
        origin: "testcontainers",
      },
      stop,
    };
  }
  if ((await commandExists("java")) && (await commandExists("mvn"))) {
    const local =
      need.kafka || need.sqs
        ? await startLocalBrokers()
        : { kafka: [] as string[], sqs: "", stop: async () => {} };
    return {
      servers: {
        kafkaBrokers: kafkaEnv !== undefined ? parseBrokers(kafkaEnv) : local.kafka,
        sqsEndpoint: sqsEnv ?? local.sqs,
        databaseUrl: dbEnv ?? LOCAL_DATABASE_URL,
        origin: "local (scripts/brokers.sh)",
      },
      stop: local.stop,
    };
  }
  throw new Error(NO_SERVERS_MESSAGE);
}
