// Configuration: read from the environment once at start-up, validated with zod, every problem
// reported in one message, then frozen. Nothing else in the process reads process.env. The core's own
// settings are here; each transport brings its own fragment (consumers/<transport>/config.ts), and only
// the fragment RELAY_SOURCE selects is read.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { KAFKA_CONFIG } from "../consumers/kafka/config.ts";
import { SQS_CONFIG } from "../consumers/sqs/config.ts";
import { IDEMPOTENCY_NAMESPACE_PATTERN } from "../schemas/index.ts";
import {
  bool,
  type FragmentContext,
  int,
  optionalText,
  parseVariables,
  Secret,
  type TransportFragment,
  text,
  variablesOf,
} from "./config-parts.ts";
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

export type { KafkaSettings } from "../consumers/kafka/config.ts";
export type { SqsSettings } from "../consumers/sqs/config.ts";
export { Secret } from "./config-parts.ts";

/**
 * The transports, by their RELAY_SOURCE value. Adding one adds its fragment here; the core's settings
 * below do not change.
 */
const TRANSPORTS = { kafka: KAFKA_CONFIG, sqs: SQS_CONFIG } as const;
type TransportName = keyof typeof TRANSPORTS;
const TRANSPORT_NAMES = Object.keys(TRANSPORTS) as [TransportName, ...TransportName[]];

/** The selected transport's settings, under its name (`config.kafka`, `config.sqs`). */
export type TransportSettings = {
  readonly [K in TransportName]?: ReturnType<(typeof TRANSPORTS)[K]["settings"]>;
};

const EnvSchema = z.object({
  RELAY_SOURCE: z
    .enum(TRANSPORT_NAMES, { error: `must be ${TRANSPORT_NAMES.join(" or ")}` })
    .default("kafka"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** json (the default when stdout is not a terminal), pretty (readable colored lines), or auto. */
  LOG_FORMAT: z.enum(["auto", "json", "pretty"], { error: "must be auto, json or pretty" }).default("auto"),
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
  /** Health, readiness and metrics endpoints (src/ops/); 0 leaves them off. */
  HTTP_PORT: int(0, 0, 65_535),
  HTTP_HOST: text("0.0.0.0"),
  /** Work waiting and nothing settled (or taken) for this long: /readyz reports the relay stalled. */
  READY_STALL_MS: int(120_000, 1_000, 86_400_000),
});

type Env = z.output<typeof EnvSchema>;

export interface RelayConfig extends TransportSettings {
  readonly source: TransportName;
  readonly logLevel: Env["LOG_LEVEL"];
  /** auto: pretty lines when stdout is a terminal, JSON otherwise. */
  readonly logFormat: Env["LOG_FORMAT"];
  readonly eventSource: string;
  readonly outcomeMode: "structured" | "binary";
  readonly idempotencyNamespace: string;
  readonly maxMessageBytes: number;
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
  /** Port of /healthz, /readyz and /metrics; 0: not served. */
  readonly httpPort: number;
  readonly httpHost: string;
  readonly readyStallMs: number;
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

function fileReader(readFile: FileReader, problems: string[]): FragmentContext["tryRead"] {
  return (name, path) => {
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
  tryRead: FragmentContext["tryRead"],
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

const LEDGER_VARIABLES = variablesOf(EnvSchema).filter(
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
  const e = parseVariables(EnvSchema, env, LEDGER_VARIABLES, problems);
  const ledger = ledgerSettings(e, fileReader(readFile, problems), problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(ledger);
}

/**
 * Parses the selected transport's variables now (so their problems are listed with the core's) and
 * returns the step that builds its settings once the core's checks are done.
 */
function readTransport(
  name: TransportName,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): (ctx: FragmentContext) => unknown {
  const fragment = TRANSPORTS[name] as TransportFragment<z.ZodRawShape, unknown>;
  const values = parseVariables(fragment.variables, env, variablesOf(fragment.variables), problems);
  return (ctx) => fragment.settings(values, ctx);
}

/** Parses and checks the environment; throws one ConfigError listing every problem. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  readFile: FileReader = readText,
): RelayConfig {
  const problems: string[] = [];
  const e = parseVariables(EnvSchema, env, variablesOf(EnvSchema), problems);
  const tryRead = fileReader(readFile, problems);
  const transport = readTransport(e.RELAY_SOURCE, env, problems);

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

  const transportSettings = transport({ problems, tryRead });

  const ledger = ledgerSettings(e, tryRead, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({
    source: e.RELAY_SOURCE,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    eventSource: e.EVENT_SOURCE,
    outcomeMode: e.OUTCOME_MODE,
    idempotencyNamespace: e.IDEMPOTENCY_NAMESPACE,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    [e.RELAY_SOURCE]: transportSettings,
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
    httpHost: e.HTTP_HOST,
    readyStallMs: e.READY_STALL_MS,
  });
}
