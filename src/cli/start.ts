import { ConfigError, loadConfig } from "../config.ts";
import { createLogger, resolveLogFormat } from "../logger.ts";
import { reportWarningsExceptTimeoutNegative } from "../process-warnings.ts";
import { DojoKeyRejectedError } from "./key-check.ts";
import { type CliIo, EXIT_FAILURE, EXIT_FATAL, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";
import { startRelay } from "./relay-app.ts";

const HELP = `usage: refund-relay start [--config <path>]

Runs the relay with configuration from the environment until SIGTERM or SIGINT, then drains in-flight
work (SHUTDOWN_TIMEOUT_MS) and exits 0. RELAY_SOURCE picks the transport: kafka (KAFKA_*) or sqs
(SQS_*, AWS_REGION). README.md ("Configuration") lists every setting with its default and range.

  --config <path>  read settings from this file too (in place of RELAY_CONFIG_FILE): KEY=value lines
                   (dotenv style: # comments, quotes) or one JSON object; a variable set in the
                   environment wins over the file. A file holding secrets that others can read is
                   named in a warning.

A variable named like a setting (RELAY_, KAFKA_, SQS_, DOJO_, LEDGER_) that is none, or a key of the
config file that is none, stops the relay with exit 2 and the closest setting's name, so a misspelt
setting cannot silently take its default; RELAY_ALLOW_UNKNOWN_ENV=true starts with a warning instead.

With HTTP_PORT set (default 0: off), serves on HTTP_HOST (default 0.0.0.0) from start-up until the
drain ends:
  GET /healthz  200 while the process runs and its event loop is not blocked, else 503
  GET /readyz   200 when the relay can work: broker answering, consumer in working order, no fault
                (Dojo key rejected, ledger failing, outcomes unpublishable), and progress whenever
                there is work (READY_STALL_MS, default 120000); else 503, the JSON body says why
  GET /metrics  Prometheus text: refund_relay_* (events, refunded amounts, Dojo and ledger latency,
                retries, dead letters, in flight, Kafka lag or SQS depth) and process metrics
A W3C traceparent on an event (header or message attribute) is continued into its Dojo requests and
its outcome; an OpenTelemetry SDK registered in the process records the spans.

Exit codes: 0 stopped by a signal after draining; 1 could not start (a broker, topic or queue missing,
the ledger cannot be opened) or a shutdown step hung; 2 configuration error, including a Dojo key
that Dojo rejects at start-up; 3 stopped itself on a state it cannot leave (Kafka consumer crashed
for good, transactional producer fenced, input offsets went backwards, ledger unavailable past
LEDGER_OUTAGE_EXIT_MS): restart it.
`;

export const startCommand: Subcommand = {
  summary: "run the relay",
  async run(args: readonly string[], io: CliIo): Promise<number> {
    if (args.includes("--help") || args.includes("-h")) {
      io.stdout.write(HELP);
      return EXIT_OK;
    }
    let configFile: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as string;
      const value = arg === "--config" ? args[++i] : arg.startsWith("--config=") ? arg.slice(9) : null;
      if (value === null) {
        io.stderr.write(`refund-relay start: unexpected argument "${arg}"\n\n${HELP}`);
        return EXIT_USAGE;
      }
      if (value === undefined || value.trim() === "") {
        io.stderr.write(`refund-relay start: --config needs a path\n\n${HELP}`);
        return EXIT_USAGE;
      }
      configFile = value;
    }
    // Configuration warnings (unknown variables allowed through, a config file others can read) go to
    // the log once there is one, or to standard error with the problems that stop the start.
    const warnings: string[] = [];
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(process.env, {
        ...(configFile === undefined ? {} : { configFile }),
        onWarning: (message) => warnings.push(message),
      });
    } catch (error) {
      if (error instanceof ConfigError) {
        for (const warning of warnings) io.stderr.write(`refund-relay start: warning: ${warning}\n`);
        io.stderr.write(`refund-relay start: ${error.message}\n`);
        return EXIT_USAGE;
      }
      throw error;
    }
    const logger = createLogger({
      level: config.logLevel,
      // auto: readable lines for a person at a terminal, JSON for a collector.
      format: resolveLogFormat(config.logFormat, process.stdout.isTTY === true),
    });
    for (const warning of warnings) logger.warn(`configuration: ${warning}`);
    reportWarningsExceptTimeoutNegative((warning) => logger.warn({ err: warning }, "process warning"));
    // Listen before starting, so a signal during start-up stops the relay once it is up instead of
    // killing the process halfway. The hard deadline is armed as soon as a signal (or a fatal error)
    // arrives: it catches a step that hangs (a broker that never answers during start-up or a
    // disconnect, for example) and exits non-zero rather than never.
    let fatal: unknown;
    let onFatal: (error: unknown) => void = () => {};
    const stopReason = new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
      onFatal = (error) => {
        fatal = error;
        resolve("fatal error");
      };
    });
    void stopReason.then(() => {
      setTimeout(() => {
        logger.error({ afterMs: config.shutdownTimeoutMs + 15_000 }, "shutdown did not finish; exiting");
        process.exit(EXIT_FAILURE);
      }, config.shutdownTimeoutMs + 15_000).unref();
    });
    let running: Awaited<ReturnType<typeof startRelay>>;
    try {
      running = await startRelay(config, logger, {
        onFatal: (error) => onFatal(error),
        processMetrics: true,
      });
    } catch (error) {
      if (error instanceof DojoKeyRejectedError) {
        logger.fatal(`refund-relay did not start: ${error.message}`);
        io.stderr.write(`refund-relay start: ${error.message}\n`);
        return EXIT_USAGE;
      }
      logger.fatal({ err: error }, `refund-relay could not start: ${(error as Error).message}`);
      return EXIT_FAILURE;
    }
    const reason = await stopReason;
    logger.info({ reason }, "shutting down");
    let code = fatal === undefined ? EXIT_OK : EXIT_FATAL;
    try {
      await running.stop();
    } catch (error) {
      logger.error({ err: error }, "shutdown failed");
      code = EXIT_FAILURE;
    }
    // Everything is closed; a client library's stray timer must not keep the process alive.
    setTimeout(() => process.exit(code), 1_000).unref();
    return code;
  },
};
