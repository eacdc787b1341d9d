// What `refund-relay send` and `refund-relay tail` share: which transport to use, its settings read from
// the environment with the relay's own rules (consumers/<transport>/config.ts), and clients that give up
// quickly when a broker cannot be reached, so a command line answers in seconds rather than retrying
// for as long as the relay would.
import { readFileSync } from "node:fs";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Kafka } from "kafkajs";
import type { z } from "zod";
import { KAFKA_CONFIG, type KafkaSettings } from "../../consumers/kafka/config.ts";
import { SQS_CONFIG, type SqsSettings } from "../../consumers/sqs/config.ts";
import { fileMode, transportSecretFileWarnings } from "../config-file.ts";
import {
  type FragmentContext,
  parseVariables,
  type TransportFragment,
  variablesOf,
} from "../config-parts.ts";
import { EXIT_FAILURE, EXIT_USAGE } from "./main.ts";

export type Env = Readonly<Record<string, string | undefined>>;
export type TransportName = "kafka" | "sqs";

/** Where a command's warnings go unless it says otherwise: standard error, one line each. */
function writeWarning(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

/** Brokers used when KAFKA_BROKERS is unset: a local Kafka (scripts/brokers.sh, docker compose). */
export const DEFAULT_KAFKA_BROKERS = "127.0.0.1:9092";

/** A command stops with this exit code and message; `showHelp` when the command line itself is wrong. */
export class CommandError extends Error {
  readonly code: number;
  readonly showHelp: boolean;
  constructor(code: number, message: string, showHelp = false) {
    super(message);
    this.code = code;
    this.showHelp = showHelp;
  }
}

/** `--kafka` / `--sqs` when given, else RELAY_SOURCE (default kafka), as for `refund-relay start`. */
export function pickTransport(flags: { kafka?: boolean; sqs?: boolean }, env: Env): TransportName {
  if (flags.kafka === true && flags.sqs === true) {
    throw new CommandError(EXIT_USAGE, "give --kafka or --sqs, not both", true);
  }
  if (flags.kafka === true) return "kafka";
  if (flags.sqs === true) return "sqs";
  const source = env.RELAY_SOURCE?.trim() || "kafka";
  if (source !== "kafka" && source !== "sqs") {
    throw new CommandError(EXIT_USAGE, `RELAY_SOURCE: must be kafka or sqs, got "${source}"`);
  }
  return source;
}

/** The variables a problem names ("A: ..." or "A, B: ..."). */
function variablesOfProblem(problem: string): string[] {
  const head = problem.slice(0, Math.max(0, problem.indexOf(":")));
  return head.split(",").map((v) => v.trim());
}

function settingsOf<Shape extends z.ZodRawShape, S>(
  fragment: TransportFragment<Shape, S>,
  env: Env,
  relevant: (variable: string) => boolean,
  rename: Readonly<Record<string, { name: string; given: boolean }>>,
  onWarning: (message: string) => void,
): S {
  const problems: string[] = [];
  const tryRead: FragmentContext["tryRead"] = (variable, path) => {
    if (path === undefined) return undefined;
    let text: string;
    try {
      // Certificates and keys: small files, read once before connecting.
      text = readFileSync(path, "utf8");
    } catch (error) {
      problems.push(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      return undefined;
    }
    // A private key others can read is warned about as when the relay starts (best effort: a file that
    // cannot be looked at now was still read).
    for (const warning of transportSecretFileWarnings(variable, path, fileMode(path))) onWarning(warning);
    return text;
  };
  const values = parseVariables(fragment.variables, env, variablesOf(fragment.variables), problems);
  const settings = fragment.settings(values, { problems, tryRead });
  // The relay checks every setting it needs; a command needs a few, and the relay's rule that an
  // output queue is not the input queue is no concern of a command that reads or writes one of them.
  const mine = problems.filter(
    (p) => variablesOfProblem(p).some(relevant) && !p.endsWith("must not be the input queue"),
  );
  if (mine.length > 0) {
    const lines = mine.map((p) => {
      const [variable] = variablesOfProblem(p);
      const option = variable === undefined ? undefined : rename[variable];
      const cli = p
        .replace(/ when RELAY_SOURCE=(?:kafka|sqs) and /, " when ")
        .replace(/ when RELAY_SOURCE=(?:kafka|sqs)/, "");
      if (option === undefined) return cli;
      // Missing: either will do. Wrong: name what was given, the option or the variable.
      if (/: required/.test(cli)) return `${cli}, or give ${option.name}`;
      return option.given ? `${option.name}${cli.slice(cli.indexOf(":"))}` : cli;
    });
    throw new CommandError(EXIT_USAGE, `invalid configuration:\n${lines.map((l) => `  - ${l}`).join("\n")}`);
  }
  return settings;
}

const KAFKA_CONNECTION = /^KAFKA_(?:BROKERS|CLIENT_ID|SSL.*|SASL_.*)$/;
const SQS_CONNECTION = /^(?:SQS_ENDPOINT|AWS_.*)$/;

/**
 * The Kafka settings from the environment (KAFKA_BROKERS defaults to a local broker); `topics` are the
 * topic variables the command uses, with an option that may replace one (its problems then name it).
 */
export function kafkaSettings(
  env: Env,
  topics: readonly string[],
  override?: { variable: string; option: string; value: string | undefined },
  onWarning: (message: string) => void = writeWarning,
): KafkaSettings {
  const withDefaults: Record<string, string | undefined> = { ...env };
  if ((withDefaults.KAFKA_BROKERS ?? "").trim() === "") withDefaults.KAFKA_BROKERS = DEFAULT_KAFKA_BROKERS;
  const rename: Record<string, { name: string; given: boolean }> = {};
  if (override !== undefined) {
    rename[override.variable] = { name: override.option, given: override.value !== undefined };
    if (override.value !== undefined) withDefaults[override.variable] = override.value;
  }
  return settingsOf(
    KAFKA_CONFIG,
    withDefaults,
    (v) => KAFKA_CONNECTION.test(v) || topics.includes(v),
    rename,
    onWarning,
  );
}

/** The SQS settings from the environment; `queues` are the queue URL variables the command uses. */
export function sqsSettings(
  env: Env,
  queues: readonly string[],
  override?: { variable: string; option: string; value: string | undefined },
  onWarning: (message: string) => void = writeWarning,
): SqsSettings {
  const copy: Record<string, string | undefined> = { ...env };
  const rename: Record<string, { name: string; given: boolean }> = {};
  if (override !== undefined) {
    rename[override.variable] = { name: override.option, given: override.value !== undefined };
    if (override.value !== undefined) copy[override.variable] = override.value;
  }
  return settingsOf(SQS_CONFIG, copy, (v) => SQS_CONNECTION.test(v) || queues.includes(v), rename, onWarning);
}

/** kafkajs retries: a few, quickly (about two seconds in all), where the relay keeps trying. */
const KAFKA_RETRY = { retries: 3, initialRetryTime: 250, maxRetryTime: 2_000 };

/**
 * A kafkajs client for a command: the relay's TLS and SASL settings (kafkaSecurity), kafkajs' own log silenced (the
 * command reports errors itself), and short retries. kafkajs' TimeoutNegativeWarning is dropped from
 * the process warnings.
 */
export async function cliKafka(settings: KafkaSettings, stderr: NodeJS.WritableStream): Promise<Kafka> {
  const [{ Kafka, logLevel }, { reportWarningsExceptTimeoutNegative }] = await Promise.all([
    import("kafkajs"),
    import("../process-warnings.ts"),
  ]);
  reportWarningsExceptTimeoutNegative((warning) => stderr.write(`warning: ${warning.message}\n`));
  const { kafkaSecurity } = await import("../../consumers/kafka/client.ts");
  return new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: KAFKA_RETRY,
    ...kafkaSecurity(settings),
  });
}

/** An SQS client for a command: one retry, a three-second connect timeout. */
export async function cliSqs(settings: SqsSettings): Promise<SQSClient> {
  const { createSqsClient } = await import("../../consumers/sqs/client.ts");
  return createSqsClient(settings, { maxAttempts: 2, connections: 8, connectTimeoutMs: 3_000 });
}

/** Where an SQS client goes, for messages: the endpoint, or AWS in its region. */
export function sqsTarget(settings: SqsSettings): string {
  return settings.endpoint ?? `AWS SQS (${settings.region})`;
}

/** An error of a broker call as one line, with the cause kafkajs keeps behind its retries. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const e = current as { message?: unknown; name?: unknown; cause?: unknown; originalError?: unknown };
    const text = typeof e.message === "string" && e.message !== "" ? e.message : String(e.name ?? current);
    if (!parts.includes(text)) parts.push(text);
    current = e.cause ?? e.originalError;
  }
  return parts.join(": ");
}

/** True when a kafkajs error (or the one behind its retries) says a topic does not exist. */
export function isUnknownTopic(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    if ((current as { type?: unknown }).type === "UNKNOWN_TOPIC_OR_PARTITION") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** An SQS error that is about the configuration (credentials, the queue) rather than reaching SQS. */
export function sqsProblem(error: unknown, queueUrl: string): CommandError {
  const name = (error as { name?: string }).name ?? "";
  if (name === "CredentialsProviderError") {
    return new CommandError(
      EXIT_USAGE,
      `no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile (${describeError(error)})`,
    );
  }
  if (/NonExistentQueue|QueueDoesNotExist/.test(name)) {
    return new CommandError(EXIT_FAILURE, `queue ${queueUrl} does not exist`);
  }
  return new CommandError(EXIT_FAILURE, describeError(error));
}
