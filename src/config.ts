// Configuration: read from the environment once at start-up (laid over an optional config file,
// src/config-file.ts), validated with zod, every problem reported in one message, then frozen. Nothing
// else in the process reads process.env. The core's own settings are here; each transport brings its
// own fragment (consumers/<transport>/config.ts), and only the fragment RELAY_SOURCE selects is read.
// A variable named like a setting that no schema knows stops the relay (src/config-unknown.ts). The
// README's configuration table is rendered from these schemas (src/config-docs.ts).
import { readFileSync } from "node:fs";
import { z } from "zod";
import { KAFKA_CONFIG } from "../consumers/kafka/config.ts";
import { SQS_CONFIG } from "../consumers/sqs/config.ts";
import { IDEMPOTENCY_NAMESPACE_PATTERN } from "../schemas/index.ts";
import {
  fileMode,
  parseConfigFile,
  permissionWarnings,
  readerWarnings,
  transportSecretFileWarnings,
} from "./config-file.ts";
import {
  bool,
  type FragmentContext,
  int,
  metaOf,
  optionalText,
  parseVariables,
  Secret,
  type TransportFragment,
  text,
  variablesOf,
} from "./config-parts.ts";
import { describeUnknown, unknownInEnvironment } from "./config-unknown.ts";
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

/**
 * The core's settings, in the groups the README's table shows them in (src/config-docs.ts renders it
 * from these schemas and the transports' fragments). Every variable says what it does with
 * `.meta({ description, ... })`; its default, range or allowed values come from its parser.
 */
const GeneralVariables = z.object({
  RELAY_SOURCE: z
    .enum(TRANSPORT_NAMES, { error: `must be ${TRANSPORT_NAMES.join(" or ")}` })
    .default("kafka")
    .meta({
      description:
        "The transport. Only the selected transport's variables are read (see Kafka and SQS below).",
    }),
  RELAY_CONFIG_FILE: optionalText.meta({
    description:
      "A file of further settings: `KEY=value` lines (dotenv style) or one JSON object; a variable set in the environment wins over the file. `refund-relay start --config <path>` takes its place. See [Configuration file](#configuration-file).",
    format: "path",
    example: "/etc/refund-relay/relay.env",
  }),
  RELAY_ALLOW_UNKNOWN_ENV: bool(false).meta({
    description:
      "Start even when the environment or the config file has variables named like the relay's (`RELAY_`, `KAFKA_`, `SQS_`, `DOJO_`, `LEDGER_`) that are no setting, warning about each; by default they stop it (exit 2). See [Unknown variables](#unknown-variables).",
  }),
  EVENT_SOURCE: text("urn:refund-relay").meta({
    description: "CloudEvents `source` of the outcomes the relay publishes.",
    format: "URI-reference",
  }),
  OUTCOME_MODE: z
    .enum(["structured", "binary"], { error: "must be structured or binary" })
    .default("structured")
    .meta({
      description:
        "How outcomes are encoded: `structured` (`application/cloudevents+json` bodies) or `binary` (`ce_*` headers or message attributes).",
    }),
  IDEMPOTENCY_NAMESPACE: text("rr")
    .pipe(
      z
        .string()
        .regex(
          IDEMPOTENCY_NAMESPACE_PATTERN,
          "must be 1-20 of A-Z a-z 0-9 . _ - starting with a letter or digit",
        ),
    )
    .meta({
      description:
        "Prefix of the Dojo idempotency keys; events already in the ledger keep the key they were first sent with.",
      format: "1-20 of `A-Z a-z 0-9 . _ -`",
    }),
  MAX_MESSAGE_BYTES: int(262_144, 1024, 16 * 1024 * 1024).meta({
    description: "Larger messages are dead-lettered unread.",
    unit: "bytes",
  }),
  MAX_IN_FLIGHT: int(512, 1, 100_000).meta({
    description:
      "Events worked on at once, across payment intents (events of one payment intent always run one at a time); also the default of `DOJO_CONNECTIONS`. Lower it if Dojo answers 429 often.",
  }),
  PREFLIGHT: bool(true).meta({
    description:
      "Read the payment intent before refunding (see [How a message is processed](#how-a-message-is-processed)).",
  }),
  REVERSE_WHEN_AUTHORIZED: bool(false).meta({
    description:
      "Reverse, instead of refusing, a return of the full amount of an authorized but uncaptured payment.",
  }),
  RETRY_MAX_ATTEMPTS: int(10, 1, 1000).meta({
    description: "Tries per delivery before an event is parked.",
  }),
  RETRY_MAX_AGE_MS: int(15 * 60_000, 1_000, 14 * 24 * 3_600_000).meta({
    description: "Time per delivery before an event is parked.",
    unit: "ms",
  }),
  RETRY_BASE_DELAY_MS: int(500, 1, 600_000).meta({
    description: "First backoff delay (exponential, full jitter, at least the `Retry-After` Dojo asks for).",
    unit: "ms",
  }),
  RETRY_MAX_DELAY_MS: int(60_000, 1, 3_600_000).meta({
    description: "Longest backoff delay; not below `RETRY_BASE_DELAY_MS`.",
    unit: "ms",
  }),
  SHUTDOWN_TIMEOUT_MS: int(20_000, 100, 600_000).meta({
    description:
      "Drain deadline on SIGTERM/SIGINT (leave room within your orchestrator's grace period: cancelling, committing and leaving the group take a few more seconds).",
    unit: "ms",
  }),
});

const DojoVariables = z.object({
  DOJO_BASE_URL: text("https://api.dojo.tech")
    .pipe(z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }))
    .meta({
      description:
        "The Dojo API (sandbox and production share the host; the key decides). `http://` is refused unless the host is loopback (`127.0.0.0/8`, `::1`, `localhost`) or `DOJO_ALLOW_INSECURE_HTTP=true`.",
      format: "https URL (http on loopback)",
    }),
  DOJO_ALLOW_INSECURE_HTTP: bool(false).meta({
    description:
      "Accept an `http://` `DOJO_BASE_URL` whose host is not loopback, such as a Dojo simulator on another host (`docker-compose.yml` does this). Never against Dojo itself: the API key and every refund would cross the network unencrypted.",
  }),
  DOJO_API_KEY: optionalText.meta({
    description:
      "The default secret key. One of `DOJO_API_KEY`, `DOJO_API_KEY_FILE`, `DOJO_ACCOUNTS_FILE` or `DOJO_ACCOUNTS_JSON` is required.",
    format: "`sk_sandbox_…` or `sk_prod_…`",
    secret: true,
  }),
  DOJO_API_KEY_FILE: optionalText.meta({
    description: "A file holding the default key (a mounted secret); not together with `DOJO_API_KEY`.",
    format: "path",
  }),
  DOJO_ACCOUNTS_FILE: optionalText.meta({
    description:
      'A file with several Dojo accounts: `{"default"?: key, "merchants"?: {"<merchantId>": key}}`; an event\'s `merchantId` picks the key, and an unknown merchant without a default fails with `unknown_merchant`.',
    format: "path",
  }),
  DOJO_ACCOUNTS_JSON: optionalText.meta({
    description: "The same accounts document as `DOJO_ACCOUNTS_FILE`, given inline; not together with it.",
    format: "JSON",
    secret: true,
  }),
  DOJO_API_VERSION: text("2026-02-27")
    .pipe(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date like 2026-02-27"))
    .meta({ description: "Sent as the `version` header.", format: "date" }),
  DOJO_CONNECT_TIMEOUT_MS: int(5_000, 100, 120_000).meta({
    description: "TCP/TLS connect deadline.",
    unit: "ms",
  }),
  DOJO_TIMEOUT_MS: int(30_000, 100, 300_000).meta({
    description: "Whole-request deadline (it cancels the request).",
    unit: "ms",
  }),
  DOJO_CONNECTIONS: int(0, 0, 4096).meta({
    description:
      "Keep-alive connections per Dojo account, one request per connection at a time, so fewer than `MAX_IN_FLIGHT` would cap throughput; `0` means as many as `MAX_IN_FLIGHT`.",
    defaultText: "`0` (`MAX_IN_FLIGHT`)",
  }),
});

const LedgerVariables = z.object({
  LEDGER_URL: text(DEFAULT_LEDGER_URL).meta({
    description:
      "The ledger: `sqlite:<path>` (directories are created) or `postgres://user[:password]@host[:port]/db` (also `postgresql://`; `sslmode`, `application_name` and `options` query parameters are honoured). Logged without its password. In production put it on persistent storage: the ledger is what lets a redelivered event be answered without asking Dojo again.",
    format: "URL",
  }),
  LEDGER_SYNC: z.enum(["full", "normal"], { error: "must be full or normal" }).default("full").meta({
    description:
      "SQLite: `full`: every commit reaches the disk (survives power loss); `normal`: survives a killed process, faster. Either way writes are group-committed on a worker thread.",
  }),
  LEDGER_OUTAGE_EXIT_MS: int(300_000, 0, 86_400_000).meta({
    description:
      "How long the ledger may stay unavailable (intake paused, retrying) before the relay exits 3 so it is restarted; `0` waits forever.",
    unit: "ms",
  }),
  LEDGER_LEASE_MS: int(30_000, 1_000, 600_000).meta({
    description:
      "How long an instance's lease on a payment intent lasts without renewal (renewed every third of it while work runs); another instance sharing the ledger takes a dead instance's work over after at most this long.",
    unit: "ms",
  }),
  LEDGER_PASSWORD_FILE: optionalText.meta({
    description:
      "PostgreSQL: the password from a file (a mounted secret); not together with a password in the URL.",
    format: "path",
  }),
  PGPASSWORD: z
    .string()
    .optional()
    .transform((v) => (v === "" ? undefined : v))
    .meta({
      description:
        "PostgreSQL: libpq's variable, used when neither the URL nor `LEDGER_PASSWORD_FILE` gives a password.",
      secret: true,
    }),
  LEDGER_SSL: z
    .enum(SSL_MODES, { error: `must be one of ${SSL_MODES.join(", ")}` })
    .optional()
    .meta({
      description:
        "PostgreSQL TLS: `disable`, `require` (encrypted, server not verified), `verify-ca`, `verify-full`.",
      defaultText: "the URL's `sslmode`; else `disable` on loopback or a socket, `verify-full` otherwise",
    }),
  LEDGER_SSL_CA_FILE: optionalText.meta({
    description: "PostgreSQL: PEM certificates to trust besides the system's.",
    format: "path",
  }),
  LEDGER_POOL_SIZE: int(10, 1, 200).meta({
    description: "PostgreSQL connections per relay (writes are group-committed: up to 4 batches at once).",
  }),
  LEDGER_STATEMENT_TIMEOUT_MS: int(5_000, 100, 600_000).meta({
    description:
      "PostgreSQL statement deadline; a batch that runs out is an outage (intake pauses, the batch is retried).",
    unit: "ms",
  }),
  LEDGER_CONNECT_TIMEOUT_MS: int(5_000, 100, 120_000).meta({
    description: "PostgreSQL connect deadline.",
    unit: "ms",
  }),
  LEDGER_MIGRATE: z.enum(["auto", "off"], { error: "must be auto or off" }).default("auto").meta({
    description:
      "PostgreSQL: `auto` applies missing schema migrations at start-up (under an advisory lock, so instances starting together migrate once); `off` refuses to start on a missing or older schema: run `refund-relay ledger migrate` before the deploy. A schema newer than the code is always refused.",
  }),
  LEDGER_RETENTION_DAYS: int(30, 0, 36_500).meta({
    description:
      "PostgreSQL: settled events unchanged for longer are deleted hourly in batches of 1,000, by one instance at a time; `0` keeps everything. Must exceed the longest redelivery horizon (topic retention, dead-letter replays).",
    unit: "days",
  }),
});

const OpsVariables = z.object({
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .meta({ description: "pino log level." }),
  LOG_FORMAT: z
    .enum(["auto", "json", "pretty"], { error: "must be auto, json or pretty" })
    .default("auto")
    .meta({
      description:
        "`json`: one JSON object per line on stdout; `pretty`: readable colored lines; `auto`: pretty when stdout is a terminal, JSON otherwise.",
    }),
  LOG_PROGRESS_INTERVAL_MS: int(30_000, 0, 86_400_000).meta({
    description:
      "How often a progress line is logged (messages processed, rate, in flight, parked, Kafka lag), only when something settled or work is pending; `0` never.",
    unit: "ms",
  }),
  HTTP_PORT: int(0, 0, 65_535).meta({
    description:
      "Port of `/healthz`, `/readyz` and `/metrics` (see [Health and metrics](#health-and-metrics)); `0` serves nothing.",
  }),
  HTTP_HOST: text("0.0.0.0").meta({ description: "Address those endpoints listen on.", format: "address" }),
  RELAY_HEAP_LIMITS: z.enum(["relay", "node"], { error: "must be relay or node" }).default("relay").meta({
    description:
      "`relay`: `refund-relay start` runs with V8 heap limits of 16 MiB per semi-space and a 384 MiB old generation (the command runs itself again with them), which keeps it near 220 to 245 MiB resident under a backlog; skipped when node's arguments or `NODE_OPTIONS` size the heap or start the inspector, or Node's own limit is already smaller (a container memory limit of about 768 MiB or less). `node`: Node's own limits, sized from the machine's memory (about 400 to 420 MiB resident under a backlog on a large host, and less CPU: a third less under a 200,000-event backlog). See [Benchmarks](#benchmarks).",
  }),
  READY_STALL_MS: int(120_000, 1_000, 86_400_000).meta({
    description:
      "Work waiting and nothing settled (or, with messages waiting at the broker, nothing taken) for this long: `/readyz` reports the relay stalled.",
    unit: "ms",
  }),
});

const EnvSchema = z.object({
  ...GeneralVariables.shape,
  ...DojoVariables.shape,
  ...LedgerVariables.shape,
  ...OpsVariables.shape,
});

/** A group of settings as the README's configuration table shows it. */
export interface ConfigGroup {
  readonly title: string;
  /** A sentence shown under the title. */
  readonly note?: string;
  readonly variables: z.ZodObject<z.ZodRawShape>;
}

/** Every setting of the relay, core and transports, in the README's order. */
export const CONFIG_GROUPS: readonly ConfigGroup[] = [
  { title: "General", variables: GeneralVariables },
  { title: "Dojo", variables: DojoVariables },
  {
    title: "Ledger",
    note: "The variables marked PostgreSQL apply to a `postgres://` ledger only.",
    variables: LedgerVariables,
  },
  {
    title: "Kafka",
    note: "Read when `RELAY_SOURCE=kafka`.",
    variables: KAFKA_CONFIG.variables,
  },
  {
    title: "SQS",
    note: "Read when `RELAY_SOURCE=sqs`; see [Amazon SQS](#amazon-sqs) for the queues' set-up.",
    variables: SQS_CONFIG.variables,
  },
  { title: "Logs, health and metrics", variables: OpsVariables },
];

/** The name of every setting (all transports'), for telling a misspelt variable from a setting. */
export const KNOWN_VARIABLES: ReadonlySet<string> = new Set(
  CONFIG_GROUPS.flatMap((group) => variablesOf(group.variables)),
);

type Env = z.output<typeof EnvSchema>;

export interface RelayConfig extends TransportSettings {
  readonly source: TransportName;
  readonly logLevel: Env["LOG_LEVEL"];
  /** auto: pretty lines when stdout is a terminal, JSON otherwise. */
  readonly logFormat: Env["LOG_FORMAT"];
  /** Progress line every this many ms while there is work; 0: never. */
  readonly logProgressIntervalMs: number;
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
  /** Lines after the problems, saying what to do about them. */
  readonly notes: readonly string[];
  constructor(problems: readonly string[], notes: readonly string[] = []) {
    super(
      `invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}${notes.map((n) => `\n${n}`).join("")}`,
    );
    this.problems = problems;
    this.notes = notes;
  }
}

type FileReader = (path: string) => string;
const readText: FileReader = (path) => readFileSync(path, "utf8");

export interface LoadOptions {
  /** Reads the files variables name (and the config file). Default: the file system. */
  readonly readFile?: FileReader;
  /** A config file given on the command line (`start --config`); takes the place of RELAY_CONFIG_FILE. */
  readonly configFile?: string;
  /**
   * A file's mode bits, for the permission checks of the config file and of the files holding secrets
   * (DOJO_API_KEY_FILE, DOJO_ACCOUNTS_FILE, LEDGER_PASSWORD_FILE, KAFKA_SSL_KEY_FILE); undefined when
   * unknown.
   */
  readonly fileMode?: (path: string) => number | undefined;
  /**
   * Receives each warning: unknown variables let through by RELAY_ALLOW_UNKNOWN_ENV, a config file
   * others can read or change, a file holding a secret that others can read. Default: written to
   * standard error.
   */
  readonly onWarning?: (message: string) => void;
}

type Environment = Readonly<Record<string, string | undefined>>;

const UNKNOWN_NOTE =
  "A variable named like a setting that is none stops the relay, so that a misspelt setting cannot silently take its default: correct or remove it, or set RELAY_ALLOW_UNKNOWN_ENV=true to start with a warning instead.";

/** What the environment and the config file give, once laid over each other and checked. */
interface Sources {
  /** The config file's settings with the environment's over them. */
  readonly env: Environment;
  /** Where each setting taken from the config file was set (`<path>:<line>`). */
  readonly origins: ReadonlyMap<string, string>;
  readonly warnings: string[];
  readonly notes: string[];
}

/**
 * Reads the config file (if one is named), lays the environment over it and reports unknown names:
 * as problems, or as warnings with RELAY_ALLOW_UNKNOWN_ENV=true. A variable set in the environment to
 * a blank value counts as unset, as everywhere else, so it does not hide the file's value.
 */
function readSources(env: Environment, options: LoadOptions, problems: string[]): Sources {
  const readFile = options.readFile ?? readText;
  const warnings: string[] = [];
  const notes: string[] = [];
  const origins = new Map<string, string>();
  const fromFlag = options.configFile !== undefined && options.configFile.trim() !== "";
  const path = fromFlag ? options.configFile?.trim() : env.RELAY_CONFIG_FILE?.trim() || undefined;
  const source = fromFlag ? "--config" : "RELAY_CONFIG_FILE";
  const merged: Record<string, string | undefined> = {};
  const unknown: string[] = [];

  if (path !== undefined) {
    let text: string | undefined;
    try {
      text = readFile(path);
    } catch (error) {
      problems.push(`${source}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
    if (text !== undefined) {
      const file = parseConfigFile(path, text);
      problems.push(...file.problems);
      const secrets: string[] = [];
      for (const [name, entry] of file.entries) {
        const where = `${path}:${entry.line}`;
        if (name === "RELAY_CONFIG_FILE") {
          problems.push(`${where}: RELAY_CONFIG_FILE cannot be set in a config file`);
          continue;
        }
        if (!KNOWN_VARIABLES.has(name)) {
          unknown.push(`${where}: ${describeUnknown(name, KNOWN_VARIABLES)}`);
          continue;
        }
        merged[name] = entry.value;
        origins.set(name, where);
        if (entry.value.trim() !== "" && holdsSecret(name, entry.value)) secrets.push(name);
      }
      const mode = process.platform === "win32" ? undefined : (options.fileMode ?? fileMode)(path);
      if (mode !== undefined) warnings.push(...permissionWarnings(path, mode, secrets, source));
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (value.trim() !== "" || !(name in merged))) {
      merged[name] = value;
      origins.delete(name);
    }
  }
  unknown.unshift(
    ...unknownInEnvironment(env, KNOWN_VARIABLES).map((n) => describeUnknown(n, KNOWN_VARIABLES)),
  );

  const allow = GeneralVariables.shape.RELAY_ALLOW_UNKNOWN_ENV.safeParse(merged.RELAY_ALLOW_UNKNOWN_ENV);
  if (allow.success && allow.data) {
    warnings.push(...unknown.map((u) => `${u}; ignored (RELAY_ALLOW_UNKNOWN_ENV=true)`));
  } else if (unknown.length > 0) {
    problems.push(...unknown);
    notes.push(UNKNOWN_NOTE);
  }
  return { env: merged, origins, warnings, notes };
}

/** Whether a setting's value is a secret: one marked so, or a ledger URL with a password in it. */
function holdsSecret(name: string, value: string): boolean {
  if (name === "LEDGER_URL") return /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(value);
  for (const group of CONFIG_GROUPS) {
    const schema = group.variables.shape[name];
    if (schema !== undefined) return metaOf(schema as z.ZodType).secret === true;
  }
  return false;
}

/** Names the config file's line in a problem with a setting taken from it: `NAME (<path>:<line>): …`. */
function locate(problems: readonly string[], origins: ReadonlyMap<string, string>): string[] {
  return problems.map((problem) => {
    const name = /^([A-Za-z_][A-Za-z0-9_]*): /.exec(problem)?.[1];
    const where = name === undefined ? undefined : origins.get(name);
    return where === undefined ? problem : `${name} (${where})${problem.slice((name as string).length)}`;
  });
}

/** Hands out the warnings, then throws the problems if there are any. */
function finish(sources: Sources, problems: readonly string[], options: LoadOptions): void {
  const warn =
    options.onWarning ?? ((message: string) => process.stderr.write(`refund-relay: warning: ${message}\n`));
  for (const warning of sources.warnings) warn(warning);
  if (problems.length > 0) throw new ConfigError(locate(problems, sources.origins), sources.notes);
}

function loadOptions(options: FileReader | LoadOptions): LoadOptions {
  return typeof options === "function" ? { readFile: options } : options;
}

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

/** Whether a URL's host (as WHATWG URL normalises it) is this machine: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === "localhost" || host === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * The problem with a plain-HTTP Dojo base URL, if it has one: the API key (in every request's
 * Authorization header) and the refunds would cross the network unencrypted. Allowed on loopback (a
 * simulator on this machine) and, with DOJO_ALLOW_INSECURE_HTTP=true, anywhere (a simulator on another
 * host). The message names the host only: a URL can carry credentials.
 */
function insecureDojoUrl(baseUrl: string, allowInsecure: boolean): string | undefined {
  const url = URL.parse(baseUrl);
  if (url === null || url.protocol !== "http:" || allowInsecure || isLoopbackHost(url.hostname)) {
    return undefined;
  }
  return `DOJO_BASE_URL: http:// to ${url.hostname} is refused: the API key and every refund would cross the network unencrypted; use https://, a loopback host (127.0.0.0/8, ::1, localhost), or set DOJO_ALLOW_INSECURE_HTTP=true for a simulator on another host`;
}

/**
 * Warnings for a file named by `variable` that holds a secret (`holds`, e.g. "a Dojo API key") and can
 * be read by others than its owner: the config file's check (src/config-file.ts), for secrets mounted
 * as files. They name the variable and the path, never what the file holds. A key file others can
 * change is reported too (whoever replaces the key decides which account pays); a password file only
 * for its readers (`changeable: false`).
 */
function secretFileWarnings(
  file: { readonly variable: string; readonly path: string | undefined; readonly holds: string },
  options: LoadOptions,
  changeable = true,
): string[] {
  if (file.path === undefined || process.platform === "win32") return [];
  const mode = (options.fileMode ?? fileMode)(file.path);
  if (mode === undefined) return [];
  return changeable
    ? permissionWarnings(file.path, mode, [file.holds], file.variable)
    : readerWarnings(file.path, mode, file.holds, file.variable);
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
  warnings: string[],
  options: LoadOptions,
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
  if (filePassword !== undefined) {
    const file = {
      variable: "LEDGER_PASSWORD_FILE",
      path: e.LEDGER_PASSWORD_FILE,
      holds: "the ledger password",
    };
    warnings.push(...secretFileWarnings(file, options, false));
  }
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
  env: Environment,
  options: FileReader | LoadOptions = {},
): RelayConfig["ledger"] {
  const opts = loadOptions(options);
  const problems: string[] = [];
  const sources = readSources(env, opts, problems);
  const e = parseVariables(EnvSchema, sources.env, LEDGER_VARIABLES, problems);
  const tryRead = fileReader(opts.readFile ?? readText, problems);
  const ledger = ledgerSettings(e, tryRead, problems, sources.warnings, opts);
  finish(sources, problems, opts);
  return deepFreeze(ledger);
}

/**
 * Parses the selected transport's variables now (so their problems are listed with the core's) and
 * returns the step that builds its settings once the core's checks are done.
 */
function readTransport(
  name: TransportName,
  env: Environment,
  problems: string[],
): (ctx: FragmentContext) => unknown {
  const fragment = TRANSPORTS[name] as TransportFragment<z.ZodRawShape, unknown>;
  const values = parseVariables(fragment.variables, env, variablesOf(fragment.variables), problems);
  return (ctx) => fragment.settings(values, ctx);
}

/**
 * Parses and checks the environment (over the config file, if one is named); throws one ConfigError
 * listing every problem. The second argument is the file reader or the options.
 */
export function loadConfig(env: Environment, options: FileReader | LoadOptions = {}): RelayConfig {
  const opts = loadOptions(options);
  const problems: string[] = [];
  const sources = readSources(env, opts, problems);
  const e = parseVariables(EnvSchema, sources.env, variablesOf(EnvSchema), problems);
  const tryRead = fileReader(opts.readFile ?? readText, problems);
  const transport = readTransport(e.RELAY_SOURCE, sources.env, problems);

  // Files are read here (not by the accounts loader) so every source of configuration goes through one
  // reader. The loader checks key prefixes and the accounts document; its errors never quote a key.
  if (e.DOJO_API_KEY !== undefined && e.DOJO_API_KEY_FILE !== undefined) {
    problems.push("DOJO_API_KEY, DOJO_API_KEY_FILE: set one, not both");
  }
  if (e.DOJO_ACCOUNTS_JSON !== undefined && e.DOJO_ACCOUNTS_FILE !== undefined) {
    problems.push("DOJO_ACCOUNTS_JSON, DOJO_ACCOUNTS_FILE: set one, not both");
  }
  const keyFile =
    e.DOJO_API_KEY === undefined ? tryRead("DOJO_API_KEY_FILE", e.DOJO_API_KEY_FILE) : undefined;
  if (keyFile !== undefined) {
    const file = { variable: "DOJO_API_KEY_FILE", path: e.DOJO_API_KEY_FILE, holds: "a Dojo API key" };
    sources.warnings.push(...secretFileWarnings(file, opts));
  }
  const apiKey = e.DOJO_API_KEY ?? keyFile?.trim();
  const accountsFile =
    e.DOJO_ACCOUNTS_JSON === undefined ? tryRead("DOJO_ACCOUNTS_FILE", e.DOJO_ACCOUNTS_FILE) : undefined;
  const accountsJson = e.DOJO_ACCOUNTS_JSON ?? accountsFile;
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
  // The accounts document holds keys (every account it names is a key); one that loads has at least one.
  if (accountsFile !== undefined && accounts !== undefined) {
    const file = { variable: "DOJO_ACCOUNTS_FILE", path: e.DOJO_ACCOUNTS_FILE, holds: "Dojo API keys" };
    sources.warnings.push(...secretFileWarnings(file, opts));
  }
  const insecure = insecureDojoUrl(e.DOJO_BASE_URL, e.DOJO_ALLOW_INSECURE_HTTP);
  if (insecure !== undefined) problems.push(insecure);
  if (e.RETRY_MAX_DELAY_MS < e.RETRY_BASE_DELAY_MS) {
    problems.push("RETRY_MAX_DELAY_MS: must not be below RETRY_BASE_DELAY_MS");
  }

  // A transport's files that hold a secret get the same check as the core's, once they were read.
  const transportSettings = transport({
    problems,
    tryRead: (variable, path) => {
      const text = tryRead(variable, path);
      if (text !== undefined && path !== undefined) {
        const mode = (opts.fileMode ?? fileMode)(path);
        sources.warnings.push(...transportSecretFileWarnings(variable, path, mode));
      }
      return text;
    },
  });

  const ledger = ledgerSettings(e, tryRead, problems, sources.warnings, opts);

  finish(sources, problems, opts);
  return deepFreeze({
    source: e.RELAY_SOURCE,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    logProgressIntervalMs: e.LOG_PROGRESS_INTERVAL_MS,
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
