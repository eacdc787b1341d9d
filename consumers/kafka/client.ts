// Builds the kafkajs client from the relay's Kafka settings (TLS, SASL) and routes kafkajs' own log
// lines into the relay's logger. kafkajs logs every failed connection attempt, with a stack trace, and
// its retry of it; against a broker that is down that is a dozen warnings that all say the same thing.
// Those are collapsed here into one line per broker and cause ("cannot reach broker 127.0.0.1:9092:
// ECONNREFUSED (6 attempts in 7 s)"), written when the client's connect() gives up or succeeds, when
// the failures stop, or every minute while they go on; each attempt stays at debug in full.
import {
  type Admin,
  type AdminConfig,
  type Consumer,
  type ConsumerConfig,
  type ISocketFactory,
  Kafka,
  type KafkaConfig,
  type logCreator,
  logLevel,
  type Producer,
  type ProducerConfig,
  type RetryOptions,
  type SASLOptions,
} from "kafkajs";
import type { KafkaSettings } from "../../src/config.ts";
import type { Logger } from "../../src/logger.ts";

/** Error codes of the network (Node's), shown as the cause of a failed connection. */
const NETWORK_CODE =
  /\b(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN|ENOTFOUND|EAI_AGAIN|EPIPE|EPROTO)\b/;

/** A kafkajs line that reports (or repeats) a network failure: connection errors and timeouts. */
const NETWORK_FAILURE = new RegExp(`Connection error|Connection timeout|${NETWORK_CODE.source}`);

/**
 * The broker and cause of a failed connection attempt, when a kafkajs line reports one. Only the
 * Connection namespace reports attempts (one line each); other namespaces repeat them (BrokerPool's
 * "trying another broker", a consumer crash caused by them) and are not attempts.
 */
export function connectionFailure(
  namespace: string,
  message: string,
  extra: Readonly<Record<string, unknown>>,
): { readonly broker: string; readonly cause: string } | undefined {
  if (namespace !== "Connection") return undefined;
  const broker = typeof extra.broker === "string" ? extra.broker : "(unknown broker)";
  if (message === "Connection timeout") return { broker, cause: "connection timeout" };
  const error = /^Connection error: (.*)$/s.exec(message);
  if (error === null) return undefined;
  return { broker, cause: NETWORK_CODE.exec(error[1] ?? "")?.[1] ?? (error[1] ?? "").trim() };
}

export interface ConnectionFailureOptions {
  /** Failures of one cause that stop for this long are reported as one line. */
  readonly quietMs?: number;
  /** A cause still failing is reported this long after its first failure... */
  readonly firstReportMs?: number;
  /** ...and then this often while it goes on. */
  readonly repeatMs?: number;
  readonly now?: () => number;
}

interface Episode {
  readonly broker: string;
  readonly cause: string;
  /** Attempts since the last report, and the first and last of them. */
  attempts: number;
  firstAt: number;
  lastAt: number;
  /** When the failures began, and whether a line about them was written already. */
  readonly since: number;
  reported: boolean;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${Math.round(s * 10) / 10} s` : `${Math.round(s)} s`;
}

/** Counts failed connection attempts per broker and cause, and reports each run of them as one line. */
export class ConnectionFailures {
  readonly #log: Logger;
  readonly #quietMs: number;
  readonly #firstReportMs: number;
  readonly #repeatMs: number;
  readonly #now: () => number;
  readonly #episodes = new Map<string, Episode>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(log: Logger, options: ConnectionFailureOptions = {}) {
    this.#log = log;
    this.#quietMs = options.quietMs ?? 5_000;
    this.#firstReportMs = options.firstReportMs ?? 15_000;
    this.#repeatMs = options.repeatMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** One failed attempt. */
  failed(broker: string, cause: string): void {
    const now = this.#now();
    const key = `${broker}\u0000${cause}`;
    const episode = this.#episodes.get(key);
    if (episode === undefined) {
      this.#episodes.set(key, {
        broker,
        cause,
        attempts: 1,
        firstAt: now,
        lastAt: now,
        since: now,
        reported: false,
      });
    } else {
      if (episode.attempts === 0) episode.firstAt = now;
      episode.attempts += 1;
      episode.lastAt = now;
    }
    this.#schedule();
  }

  /** Reports every run of failures not reported yet, as over (a connect() gave up or succeeded). */
  flush(): void {
    for (const [key, episode] of this.#episodes) {
      if (episode.attempts > 0) this.#report(episode, false);
      this.#episodes.delete(key);
    }
    this.#schedule();
  }

  /** Reports what is due: runs that went quiet (and ends them), and runs going on for long. */
  check(): void {
    const now = this.#now();
    for (const [key, episode] of this.#episodes) {
      if (now - episode.lastAt >= this.#quietMs) {
        if (episode.attempts > 0) this.#report(episode, false);
        this.#episodes.delete(key);
      } else if (episode.attempts > 0 && now >= this.#dueAt(episode)) {
        this.#report(episode, true);
      }
    }
    this.#schedule();
  }

  #dueAt(episode: Episode): number {
    return episode.reported ? episode.firstAt + this.#repeatMs : episode.since + this.#firstReportMs;
  }

  #report(episode: Episode, ongoing: boolean): void {
    const { broker, cause, attempts } = episode;
    const spanMs = episode.lastAt - episode.firstAt;
    const span = attempts === 1 ? "1 attempt" : `${attempts} attempts in ${seconds(spanMs)}`;
    this.#log.warn(
      {
        broker,
        cause,
        attempts,
        forMs: spanMs,
        ...(ongoing ? { stillFailing: true } : {}),
        ...(episode.reported ? { failingSinceMs: this.#now() - episode.since } : {}),
      },
      `cannot reach broker ${broker}: ${cause} (${span}${ongoing ? "; still trying" : ""})`,
    );
    episode.reported = true;
    episode.attempts = 0;
  }

  #schedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    let next = Number.POSITIVE_INFINITY;
    for (const episode of this.#episodes.values()) {
      next = Math.min(next, episode.lastAt + this.#quietMs);
      if (episode.attempts > 0) next = Math.min(next, this.#dueAt(episode));
    }
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.check(), Math.max(0, next - this.#now()));
    this.#timer.unref?.();
  }
}

/** kafkajs' log lines, into the relay's logger (component "kafkajs"), network failures collapsed. */
export function kafkaLogCreator(logger: Logger, failures: ConnectionFailures): logCreator {
  const log = logger.child({ component: "kafkajs" });
  return () =>
    ({ namespace, level, log: entry }) => {
      // pino has its own time; "logger" always says kafkajs.
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = entry;
      const fields = { namespace, ...extra };
      if (level === logLevel.ERROR || level === logLevel.WARN) {
        const failure = connectionFailure(namespace, message, extra);
        if (failure !== undefined) {
          // Counted, and kept whole (stack included) at debug.
          log.debug(fields, message);
          failures.failed(failure.broker, failure.cause);
        } else if (NETWORK_FAILURE.test(message)) {
          // A retry or crash notice about a failure already counted: the relay logs what it does about it.
          log.debug(fields, message);
        } else {
          // kafkajs reports routine retries (coordinator loading, rebalances) as ERROR; they are
          // warnings for the relay, which retries or redelivers on its own.
          log.warn(fields, message);
        }
      } else if (level === logLevel.INFO) log.info(fields, message);
      else log.debug(fields, message);
    };
}

function saslOptions(sasl: NonNullable<KafkaSettings["sasl"]>): SASLOptions {
  const credentials = { username: sasl.username, password: sasl.password.reveal() };
  switch (sasl.mechanism) {
    case "plain":
      return { mechanism: "plain", ...credentials };
    case "scram-sha-256":
      return { mechanism: "scram-sha-256", ...credentials };
    case "scram-sha-512":
      return { mechanism: "scram-sha-512", ...credentials };
  }
}

/** Reports the connection failures counted so far once connect() has given up or succeeded. */
function reportingConnect<T extends { connect(): Promise<void> }>(
  client: T,
  failures: ConnectionFailures,
): T {
  const connect = client.connect.bind(client);
  client.connect = async () => {
    try {
      await connect();
    } finally {
      failures.flush();
    }
  };
  return client;
}

/** A kafkajs client whose producers, consumers and admins report collapsed connection failures. */
class RelayKafka extends Kafka {
  readonly #failures: ConnectionFailures;

  constructor(config: KafkaConfig, failures: ConnectionFailures) {
    super(config);
    this.#failures = failures;
  }

  override producer(config?: ProducerConfig): Producer {
    return reportingConnect(super.producer(config), this.#failures);
  }

  override consumer(config: ConsumerConfig): Consumer {
    return reportingConnect(super.consumer(config), this.#failures);
  }

  override admin(config?: AdminConfig): Admin {
    return reportingConnect(super.admin(config), this.#failures);
  }
}

export interface CreateKafkaOptions {
  /**
   * Replaces how connections are opened (tests route every broker connection, the advertised ones
   * included, through a proxy they can stop).
   */
  readonly socketFactory?: ISocketFactory;
  /** When collapsed connection failures are reported (defaults: see ConnectionFailures). */
  readonly failures?: ConnectionFailureOptions;
  /** kafkajs' own retries of the client (default: kafkajs', about 8 s of connection attempts). */
  readonly retry?: RetryOptions;
}

export function createKafka(
  settings: KafkaSettings,
  logger: Logger,
  options: CreateKafkaOptions = {},
): Kafka {
  const failures = new ConnectionFailures(logger.child({ component: "kafkajs" }), options.failures);
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger, failures),
    ...(options.socketFactory === undefined ? {} : { socketFactory: options.socketFactory }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  };
  Object.assign(config, kafkaSecurity(settings));
  return new RelayKafka(config, failures);
}

/** The TLS and SASL options of a kafkajs client, from the relay's settings (also used by commands). */
export function kafkaSecurity(settings: KafkaSettings): Pick<KafkaConfig, "ssl" | "sasl"> {
  const security: Pick<KafkaConfig, "ssl" | "sasl"> = {};
  if (settings.ssl !== false) {
    security.ssl = {
      rejectUnauthorized: settings.ssl.rejectUnauthorized,
      ...(settings.ssl.ca === undefined ? {} : { ca: [settings.ssl.ca] }),
      ...(settings.ssl.cert === undefined ? {} : { cert: settings.ssl.cert }),
      ...(settings.ssl.key === undefined ? {} : { key: settings.ssl.key.reveal() }),
    };
  }
  if (settings.sasl !== undefined) security.sasl = saslOptions(settings.sasl);
  return security;
}
