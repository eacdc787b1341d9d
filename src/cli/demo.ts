// `refund-relay demo`: refunds flowing end to end in one process, with nothing to install or start.
import { parseArgs } from "node:util";
import type { DemoProgress } from "../demo/run.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";

const HELP = `usage: refund-relay demo [--events N] [--fault-rate R] [--seed S] [--kafka] [--json]

Runs the relay end to end in this process and checks the result: an in-process SQS emulator, the
Dojo simulator (with injected faults) and an SQLite ledger in a temporary directory. Nothing to
install or start, no ports to free.

A shop's mix of return.approved messages goes out: full and partial refunds (several per payment),
duplicates, an over-refund, an uncaptured payment, invalid and unparseable events. Dojo answers
some refund calls with 500, 502, 503 or 429, never answers some, and applies some but drops the
connection. Once all are answered, some settled events are delivered again: they must be answered
from the ledger, without a Dojo call. The summary shows the outcomes by code, the refunds and money
at the simulator, the faults survived, and whether every invariant held.

options:
  --events N       messages to send (default 200, at least 20)
  --fault-rate R   share of Dojo refund calls that fail in some way, 0 to 0.5 (default 0.1)
  --seed S         seed of the mix and the faults (default: drawn, and printed)
  --kafka          run over Kafka instead: the brokers in KAFKA_BROKERS (default 127.0.0.1:9092),
                   local servers (npm run brokers start) or Docker (docker compose up kafka)
  --json           print the summary as JSON instead of a table
  -h, --help       this help

environment:
  KAFKA_BROKERS    with --kafka: the brokers to use

exit codes:
  0  every invariant held
  1  an invariant did not hold, or the run could not complete
  2  usage error
`;

function parseNumber(
  name: string,
  text: string | undefined,
  fallback: number,
  check: (n: number) => boolean,
) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || !check(n))
    throw new Error(`--${name}: "${text}" is not allowed`);
  return n;
}

function progressLine(p: DemoProgress): string {
  const answered = p.succeeded + p.failed + p.deadLettered;
  const width = 30;
  const done = p.total === 0 ? 0 : Math.min(width, Math.round((answered / p.total) * width));
  const bar = `${"#".repeat(done)}${".".repeat(width - done)}`;
  return `[${bar}] ${String(answered).padStart(String(p.total).length)}/${p.total} answered  succeeded ${p.succeeded}  failed ${p.failed}  dead-lettered ${p.deadLettered}  (${p.phase})`;
}

export const demoCommand: Subcommand = {
  summary: "run the relay end to end in this process and check the result",
  async run(args, io) {
    let values: Record<string, string | boolean | undefined>;
    try {
      values = parseArgs({
        args: [...args],
        options: {
          events: { type: "string" },
          "fault-rate": { type: "string" },
          seed: { type: "string" },
          kafka: { type: "boolean" },
          json: { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (error) {
      io.stderr.write(`refund-relay demo: ${(error as Error).message}\n\n${HELP}`);
      return EXIT_USAGE;
    }
    if (values.help === true) {
      io.stdout.write(HELP);
      return EXIT_OK;
    }
    let events: number;
    let faultRate: number;
    let seed: number | undefined;
    try {
      events = parseNumber(
        "events",
        values.events as string | undefined,
        200,
        (n) => Number.isSafeInteger(n) && n >= 20 && n <= 100_000,
      );
      faultRate = parseNumber(
        "fault-rate",
        values["fault-rate"] as string | undefined,
        0.1,
        (n) => n >= 0 && n <= 0.5,
      );
      seed =
        values.seed === undefined
          ? undefined
          : parseNumber(
              "seed",
              values.seed as string,
              0,
              (n) => Number.isSafeInteger(n) && n >= 0 && n < 2 ** 31,
            );
    } catch (error) {
      io.stderr.write(`refund-relay demo: ${(error as Error).message}\n`);
      return EXIT_USAGE;
    }
    const { demoSeed } = await import("../demo/plan.ts");
    const { runDemo } = await import("../demo/run.ts");
    const { renderSummary } = await import("../demo/summary.ts");
    const world = await import("../demo/world.ts");
    const kafka = values.kafka === true;
    // kafkajs sets negative timeouts now and then; Node's warning about it is noise here.
    const { reportWarningsExceptTimeoutNegative } = await import("../process-warnings.ts");
    reportWarningsExceptTimeoutNegative((warning) => io.stderr.write(`warning: ${warning.message}\n`));
    const brokers = process.env.KAFKA_BROKERS ?? "127.0.0.1:9092";
    const chosenSeed = demoSeed(seed);
    const stderr = io.stderr as NodeJS.WriteStream;
    const live = stderr.isTTY === true && values.json !== true;
    let lastPhase = "";
    const onProgress = (p: DemoProgress) => {
      if (live) stderr.write(`\r${progressLine(p)}\u001b[K`);
      else if (p.phase !== lastPhase && values.json !== true) io.stderr.write(`demo: ${p.phase}\n`);
      lastPhase = p.phase;
    };
    if (values.json !== true) {
      io.stderr.write(
        `refund-relay demo: ${events} events, fault rate ${faultRate}, seed ${chosenSeed}, over ${kafka ? `Kafka (${brokers})` : "SQS (in-process emulator)"}\n`,
      );
    }
    let result: Awaited<ReturnType<typeof runDemo>>;
    try {
      result = await runDemo(
        { events, faultRate, seed: chosenSeed, transport: kafka ? "kafka" : "sqs", onProgress },
        kafka ? (id) => world.openKafkaWorld(id, brokers) : world.openSqsWorld,
      );
    } catch (error) {
      if (live) stderr.write("\n");
      const hint = kafka ? ` (is Kafka running at ${brokers}? try without --kafka)` : "";
      io.stderr.write(`refund-relay demo: the run could not complete: ${(error as Error).message}${hint}\n`);
      return EXIT_FAILURE;
    }
    if (live) stderr.write("\n");
    const { summary } = result;
    if (values.json === true) {
      io.stdout.write(
        `${JSON.stringify({ seed: chosenSeed, transport: result.description, logFile: result.logFile, ...summary }, null, 2)}\n`,
      );
    } else {
      const stdout = io.stdout as NodeJS.WriteStream;
      const header = `refund-relay demo over ${result.description}, seed ${chosenSeed} (same run again: --seed ${chosenSeed} --events ${events} --fault-rate ${faultRate})`;
      io.stdout.write(renderSummary(summary, header, stdout.isTTY === true));
      io.stdout.write(`the relay's log: ${result.logFile}\n`);
    }
    return summary.allHeld ? EXIT_OK : EXIT_FAILURE;
  },
};
