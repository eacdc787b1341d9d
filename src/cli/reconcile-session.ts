// What every `refund-relay reconcile` action opens: the configuration, the ledger (never created by
// accident), a Dojo client for fresh reads, and the lookup of one event.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, loadConfig, type RelayConfig } from "../config.ts";
import { createDojoClient } from "../dojo/index.ts";
import { type Ledger, type LedgerEntry, openLedger, sqlitePath } from "../ledger/index.ts";
import { createLogger, type Logger, silentLogger } from "../logger.ts";
import { type CliIo, EXIT_FAILURE, EXIT_USAGE } from "./main.ts";
import { Stop } from "./reconcile-args.ts";

export interface Session {
  readonly config: RelayConfig;
  readonly ledger: Ledger;
  readonly logger: Logger;
}

function configFromEnv(needsKafka: boolean): RelayConfig {
  const env: Record<string, string | undefined> = { ...process.env };
  // Only publishing uses Kafka; listing and showing should work where no broker is configured.
  if (!needsKafka && (env.KAFKA_BROKERS ?? "").trim() === "") env.KAFKA_BROKERS = "unused.invalid:9092";
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new Stop(EXIT_USAGE, error.message);
    throw error;
  }
}

export async function openSession(io: CliIo, needsKafka: boolean): Promise<Session> {
  const config = configFromEnv(needsKafka);
  // Warnings and errors only, and on standard error: standard output is the command's answer.
  const quiet = ["error", "fatal", "silent"].includes(config.logLevel);
  const logger = createLogger({ level: quiet ? config.logLevel : "warn", destination: io.stderr });
  const url = config.ledger.url;
  if (url.startsWith("sqlite:")) {
    const path = sqlitePath(url);
    // Opening a missing file would create an empty ledger and report that nothing is parked.
    if (path !== "" && path !== ":memory:" && !existsSync(resolve(path))) {
      throw new Stop(EXIT_USAGE, `LEDGER_URL: there is no ledger at ${resolve(path)}`);
    }
  }
  let ledger: Ledger;
  try {
    const postgres = config.ledger.postgres;
    ledger = await openLedger(url, {
      synchronous: config.ledger.synchronous,
      thread: "caller",
      // A short-lived command sweeps nothing.
      ...(postgres === undefined ? {} : { postgres: { ...postgres, sweepIntervalMs: 0 } }),
      logger,
    });
  } catch (error) {
    throw new Stop(EXIT_FAILURE, `cannot open the ledger: ${(error as Error).message}`);
  }
  return { config, ledger, logger };
}

export function openDojo(session: Session) {
  const { dojo } = session.config;
  // A person is waiting on every read: bounded tighter than the relay's refunds, one resend at most.
  const readMs = Math.min(dojo.timeoutMs, 10_000);
  return createDojoClient({
    baseUrl: dojo.baseUrl,
    apiVersion: dojo.apiVersion,
    accounts: dojo.accounts,
    connections: 4,
    timeouts: { connectMs: dojo.connectTimeoutMs, totalMs: readMs },
    retry: { maxAttempts: 2, budgetMs: readMs },
    // Each failed read is reported in the output itself ("unreadable: <code>").
    logger: silentLogger,
  });
}

/** The row named by id (and source, or the only parked event with that id). */
export async function findEntry(
  ledger: Ledger,
  eventId: string,
  source: string | undefined,
): Promise<LedgerEntry> {
  if (source !== undefined) {
    const entry = await ledger.get({ source, eventId });
    if (entry === undefined) throw new Stop(EXIT_FAILURE, `no event ${eventId} from ${source} in the ledger`);
    return entry;
  }
  const matches = (await ledger.listParked(10_000)).filter((e) => e.eventId === eventId);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new Stop(
      EXIT_FAILURE,
      `no parked event has id ${eventId}; for an event that is not parked (or already settled), give --source <source>`,
    );
  }
  const sources = matches.map((e) => e.source).join(", ");
  throw new Stop(
    EXIT_USAGE,
    `${matches.length} parked events have id ${eventId} (sources ${sources}); give --source`,
  );
}
