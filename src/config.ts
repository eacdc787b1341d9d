// Configuration: read from the environment once at start-up, validated with zod, every problem
// reported in one message, then frozen. Nothing else in the process reads process.env.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { inspect } from "node:util";
import { z } from "zod";
import { IDEMPOTENCY_NAMESPACE_PATTERN } from "../schemas/index.ts";
import { type DojoAccounts, loadDojoAccounts } from "./dojo/index.ts";
import {
  DEFAULT_LEDGER_URL,
  isPostgresUrl,
  type PostgresLedgerSettings,
  parsePostgresUrl,
  redactLedgerUrl,
  SSL_MODES,
} from "./ledger/index.ts";
import type { PipelineSettings } from "./pipeline/index.ts";

/** Holds a secret so that logging, JSON-encoding or inspecting a config object never shows it. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return "[redacted]";
  }
  toString(): string {
    return "[redacted]";
  }
  [inspect.custom](): string {
    return "Secret([redacted])";
  }
}

const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === "true" || v === "1" || v === "yes"));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const text = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? fallback : v.trim()));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const topic = (fallback: string) =>
  text(fallback).pipe(
    z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, "must be a Kafka topic name ([A-Za-z0-9._-], 1-249 chars)"),
  );

const EnvSchema = z.object({
  RELAY_SOURCE: z.enum(["kafka", "sqs"], { error: "must be kafka or sqs" }).default("kafka"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  EVENT_SOURCE: text("urn:refund-relay"),
  OUTCOME_MODE: z
    .enum(["structured", "binary"], { error: "must be structured or binary" })
    .default("structured"),
  IDEMPOTENCY_NAMESPACE: text("rr").pipe(
    z
      .string()
      .regex(
        IDEMPOTENCY_NAMESPACE_PATTERN,
        "must be 1-20 of A-Z a-z 0-9 . _ - starting with a letter or digit",
      ),
  ),
  MAX_MESSAGE_BYTES: int(262_144, 1024, 16 * 1024 * 1024),

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

  DOJO_BASE_URL: text("https://api.dojo.tech").pipe(
    z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  ),
  DOJO_API_KEY: optionalText,
  DOJO_API_KEY_FILE: optionalText,
  DOJO_ACCOUNTS_FILE: optionalText,
  DOJO_ACCOUNTS_JSON: optionalText,
  DOJO_API_VERSION: text("2026-02-27").pipe(
    z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date like 2026-02-27"),
  ),
  DOJO_CONNECT_TIMEOUT_MS: int(5_000, 100, 120_000),
  DOJO_TIMEOUT_MS: int(30_000, 100, 300_000),
  /** 0: as many as MAX_IN_FLIGHT, so the connection pool never limits the pipeline. */
  DOJO_CONNECTIONS: int(0, 0, 4096),

  LEDGER_URL: text(DEFAULT_LEDGER_URL),
  LEDGER_SYNC: z.enum(["full", "normal"], { error: "must be full or normal" }).default("full"),
  LEDGER_OUTAGE_EXIT_MS: int(300_000, 0, 86_400_000),
  LEDGER_LEASE_MS: int(30_000, 1_000, 600_000),
  // PostgreSQL ledgers only (postgres:// or postgresql:// URLs).
  LEDGER_PASSWORD_FILE: optionalText,
  /** libpq's variable, used when neither the URL nor LEDGER_PASSWORD_FILE gives a password. */
  PGPASSWORD: z
    .string()
    .optional()
    .transform((v) => (v === "" ? undefined : v)),
  LEDGER_SSL: z.enum(SSL_MODES, { error: `must be one of ${SSL_MODES.join(", ")}` }).optional(),
  LEDGER_SSL_CA_FILE: optionalText,
  LEDGER_POOL_SIZE: int(10, 1, 200),
  LEDGER_STATEMENT_TIMEOUT_MS: int(5_000, 100, 600_000),
  LEDGER_CONNECT_TIMEOUT_MS: int(5_000, 100, 120_000),
  LEDGER_MIGRATE: z.enum(["auto", "off"], { error: "must be auto or off" }).default("auto"),
  LEDGER_RETENTION_DAYS: int(30, 0, 36_500),

  MAX_IN_FLIGHT: int(512, 1, 100_000),
  PREFLIGHT: bool(true),
  REVERSE_WHEN_AUTHORIZED: bool(false),
  RETRY_MAX_ATTEMPTS: int(10, 1, 1000),
  RETRY_MAX_AGE_MS: int(15 * 60_000, 1_000, 14 * 24 * 3_600_000),
  RETRY_BASE_DELAY_MS: int(500, 1, 600_000),
  RETRY_MAX_DELAY_MS: int(60_000, 1, 3_600_000),
  SHUTDOWN_TIMEOUT_MS: int(20_000, 100, 600_000),
  HTTP_PORT: int(0, 0, 65_535),
});

type Env = z.output<typeof EnvSchema>;

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

export interface RelayConfig {
  readonly source: "kafka" | "sqs";
  readonly logLevel: Env["LOG_LEVEL"];
  readonly eventSource: string;
  readonly outcomeMode: "structured" | "binary";
  readonly idempotencyNamespace: string;
  readonly maxMessageBytes: number;
  readonly kafka?: KafkaSettings;
  readonly dojo: {
    readonly baseUrl: string;
    readonly apiVersion: string;
    /** API keys per merchant (and a default); the object never reveals a key when logged. */
    readonly accounts: DojoAccounts;
    readonly connectTimeoutMs: number;
    readonly timeoutMs: number;
    readonly connections: number;
  };
  readonly ledger: {
    /** The ledger's URL without its password (safe to log). */
    readonly url: string;
    readonly synchronous: "full" | "normal";
    /** A ledger outage longer than this stops the relay (exit 3) so it is restarted; 0 never. */
    readonly outageExitMs: number;
    /** Set for a PostgreSQL ledger: what opening it takes beyond the URL (the password as a Secret). */
    readonly postgres?: PostgresLedgerSettings;
  };
  readonly pipeline: Pick<
    PipelineSettings,
    "maxInFlight" | "preflight" | "reverseWhenAuthorized" | "retry" | "lease"
  >;
  readonly shutdownTimeoutMs: number;
  readonly httpPort: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

type FileReader = (path: string) => string;
const readText: FileReader = (path) => readFileSync(path, "utf8");

function deepFreeze<T>(value: T): T {
  const plain =
    value !== null &&
    typeof value === "object" &&
    [Object.prototype, Array.prototype, null].includes(Object.getPrototypeOf(value));
  if (plain) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Each variable is checked on its own, so one bad value does not hide the others or the checks across
 * variables; a variable that fails takes its default for those checks.
 */
function parseVariables(
  env: Readonly<Record<string, string | undefined>>,
  names: ReadonlyArray<keyof Env>,
  problems: string[],
): Env {
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const schema = EnvSchema.shape[name];
    const result = schema.safeParse(env[name]);
    if (result.success) {
      values[name] = result.data;
    } else {
      for (const issue of result.error.issues) problems.push(`${name}: ${issue.message}`);
      values[name] = schema.safeParse(undefined).data;
    }
  }
  return values as Env;
}

function fileReader(readFile: FileReader, problems: string[]) {
  return (name: string, path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFile(path);
    } catch (error) {
      problems.push(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      return undefined;
    }
  };
}

/** How often a PostgreSQL ledger's retention sweep runs. */
const SWEEP_INTERVAL_MS = 3_600_000;

/**
 * The ledger's settings. A postgres:// URL is checked here, so a bad one is a configuration error;
 * its password (from the URL, LEDGER_PASSWORD_FILE or PGPASSWORD) moves into a Secret and the URL
 * kept in the configuration has none, so logging the configuration or the URL never shows it.
 */
function ledgerSettings(
  e: Env,
  tryRead: ReturnType<typeof fileReader>,
  problems: string[],
): RelayConfig["ledger"] {
  const base = { synchronous: e.LEDGER_SYNC, outageExitMs: e.LEDGER_OUTAGE_EXIT_MS };
  const url = e.LEDGER_URL;
  if (!isPostgresUrl(url)) {
    if (!url.startsWith("sqlite:")) {
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] ?? "(none)";
      problems.push(
        `LEDGER_URL: unsupported scheme "${scheme}"; supported: sqlite:<path>, postgres://user@host:port/database (or postgresql://)`,
      );
    }
    return { url, ...base };
  }
  let urlPassword: string | undefined;
  try {
    urlPassword = parsePostgresUrl(url).password;
  } catch (error) {
    problems.push(`LEDGER_URL: ${(error as Error).message} (${redactLedgerUrl(url)})`);
  }
  if (urlPassword !== undefined && e.LEDGER_PASSWORD_FILE !== undefined) {
    problems.push("LEDGER_URL, LEDGER_PASSWORD_FILE: the URL has a password already; give it in one place");
  }
  // A file written by `echo` ends with a newline that is not part of the password.
  const filePassword = tryRead("LEDGER_PASSWORD_FILE", e.LEDGER_PASSWORD_FILE)?.replace(/\r?\n$/, "");
  const password = urlPassword ?? filePassword ?? e.PGPASSWORD;
  const sslCa = tryRead("LEDGER_SSL_CA_FILE", e.LEDGER_SSL_CA_FILE);
  return {
    url: redactLedgerUrl(url),
    ...base,
    postgres: {
      ...(password === undefined ? {} : { password: new Secret(password) }),
      ...(e.LEDGER_SSL === undefined ? {} : { ssl: e.LEDGER_SSL }),
      ...(sslCa === undefined ? {} : { sslCa }),
      poolSize: e.LEDGER_POOL_SIZE,
      statementTimeoutMs: e.LEDGER_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: e.LEDGER_CONNECT_TIMEOUT_MS,
      migrate: e.LEDGER_MIGRATE,
      retentionDays: e.LEDGER_RETENTION_DAYS,
      sweepIntervalMs: e.LEDGER_RETENTION_DAYS > 0 ? SWEEP_INTERVAL_MS : 0,
    },
  };
}

const LEDGER_VARIABLES = (Object.keys(EnvSchema.shape) as Array<keyof Env>).filter(
  (name) => name.startsWith("LEDGER_") || name === "PGPASSWORD",
);

/**
 * Only the ledger's settings, for commands that touch nothing else (`refund-relay ledger`); same
 * checks and messages as loadConfig.
 */
export function loadLedgerConfig(
  env: Readonly<Record<string, string | undefined>>,
  readFile: FileReader = readText,
): RelayConfig["ledger"] {
  const problems: string[] = [];
  const e = parseVariables(env, LEDGER_VARIABLES, problems);
  const ledger = ledgerSettings(e, fileReader(readFile, problems), problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(ledger);
}

/** Parses and checks the environment; throws one ConfigError listing every problem. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  readFile: FileReader = readText,
): RelayConfig {
  const problems: string[] = [];
  const e = parseVariables(env, Object.keys(EnvSchema.shape) as Array<keyof Env>, problems);
  const tryRead = fileReader(readFile, problems);

  // Files are read here (not by the accounts loader) so every source of configuration goes through one
  // reader. The loader checks key prefixes and the accounts document; its errors never quote a key.
  if (e.DOJO_API_KEY !== undefined && e.DOJO_API_KEY_FILE !== undefined) {
    problems.push("DOJO_API_KEY, DOJO_API_KEY_FILE: set one, not both");
  }
  if (e.DOJO_ACCOUNTS_JSON !== undefined && e.DOJO_ACCOUNTS_FILE !== undefined) {
    problems.push("DOJO_ACCOUNTS_JSON, DOJO_ACCOUNTS_FILE: set one, not both");
  }
  const apiKey = e.DOJO_API_KEY ?? tryRead("DOJO_API_KEY_FILE", e.DOJO_API_KEY_FILE)?.trim();
  const accountsJson = e.DOJO_ACCOUNTS_JSON ?? tryRead("DOJO_ACCOUNTS_FILE", e.DOJO_ACCOUNTS_FILE);
  const unreadable = problems.some(
    (p) => p.startsWith("DOJO_API_KEY_FILE:") || p.startsWith("DOJO_ACCOUNTS_FILE:"),
  );
  let accounts: DojoAccounts | undefined;
  try {
    if (!unreadable) accounts = loadDojoAccounts({ apiKey, accountsJson });
  } catch (error) {
    const names =
      e.DOJO_ACCOUNTS_FILE !== undefined || e.DOJO_ACCOUNTS_JSON !== undefined
        ? "DOJO_API_KEY / DOJO_ACCOUNTS_FILE / DOJO_ACCOUNTS_JSON"
        : "DOJO_API_KEY";
    problems.push(`${names}: ${(error as Error).message}`);
  }
  if (e.RETRY_MAX_DELAY_MS < e.RETRY_BASE_DELAY_MS) {
    problems.push("RETRY_MAX_DELAY_MS: must not be below RETRY_BASE_DELAY_MS");
  }

  let kafka: KafkaSettings | undefined;
  if (e.RELAY_SOURCE === "kafka") {
    const brokers = (e.KAFKA_BROKERS ?? "")
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b !== "");
    if (brokers.length === 0)
      problems.push("KAFKA_BROKERS: required when RELAY_SOURCE=kafka (host:port,...)");
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
    kafka = {
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
  } else {
    problems.push("RELAY_SOURCE: sqs is not available in this version; use kafka");
  }

  const ledger = ledgerSettings(e, tryRead, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({
    source: e.RELAY_SOURCE,
    logLevel: e.LOG_LEVEL,
    eventSource: e.EVENT_SOURCE,
    outcomeMode: e.OUTCOME_MODE,
    idempotencyNamespace: e.IDEMPOTENCY_NAMESPACE,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    ...(kafka === undefined ? {} : { kafka }),
    dojo: {
      baseUrl: e.DOJO_BASE_URL,
      apiVersion: e.DOJO_API_VERSION,
      accounts: accounts as DojoAccounts,
      connectTimeoutMs: e.DOJO_CONNECT_TIMEOUT_MS,
      timeoutMs: e.DOJO_TIMEOUT_MS,
      connections: e.DOJO_CONNECTIONS === 0 ? e.MAX_IN_FLIGHT : e.DOJO_CONNECTIONS,
    },
    ledger,
    pipeline: {
      maxInFlight: e.MAX_IN_FLIGHT,
      preflight: e.PREFLIGHT,
      reverseWhenAuthorized: e.REVERSE_WHEN_AUTHORIZED,
      lease: { ttlMs: e.LEDGER_LEASE_MS },
      retry: {
        maxAttempts: e.RETRY_MAX_ATTEMPTS,
        maxAgeMs: e.RETRY_MAX_AGE_MS,
        baseDelayMs: e.RETRY_BASE_DELAY_MS,
        maxDelayMs: e.RETRY_MAX_DELAY_MS,
      },
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    httpPort: e.HTTP_PORT,
  });
}
