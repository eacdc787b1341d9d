// `refund-relay replay`: moves dead letters back to the relay's input once what dead-lettered them is
// fixed (Dojo was down past the retry budget, a merchant's key was missing, a bug). Each original message
// is validated again with the relay's contract and looked up in the ledger first: what still fails
// validation, or is already settled (the relay would only re-publish its outcome), stays where it is.
// A dry run by default; --apply sends. One line per dead letter says what was decided and why.
import { ConfigError, loadConfig, type RelayConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { commandLogger, openCommandLedger } from "./inspect.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";
import { type Parsed, parse, Stop, usage } from "./reconcile-args.ts";
import { DEAD_LETTER_CODES, type DeadLetter, type DeadLetterReader, decide } from "./replay-decide.ts";

export const REPLAY_HELP = `usage: refund-relay replay [--dry-run | --apply] [--force] [--code <code>[,<code>...]]
                             [--max <n>] [--rate <n>] [--group <id>] [--json]

Moves dead letters back to the relay's input. For each dead letter, oldest first: the original message
is validated again as the relay validates it, and its event looked up in the ledger. It stays where it
is when it still fails validation (or is unparseable, or is not a refund-relay dead letter), or when the
ledger holds a settled outcome for it (succeeded, failed or published: the relay would only re-publish
that outcome) or other content under its id (an idempotency conflict). Otherwise the original message
is sent to the input as it was received (bytes, key, headers or attributes, without what the relay
added), where a running relay processes it, or resumes it with the same idempotency key. Dojo's
idempotency key and the ledger make a replayed event refund at most once.

  Kafka (RELAY_SOURCE=kafka)  KAFKA_DLQ_TOPIC -> KAFKA_INPUT_TOPIC. Read in a consumer group of its own
      (--group); a partition's offset is committed once a replayed record's send was acknowledged, and
      never past a dead letter that stayed: that one and those after it are read again next run.
  SQS (RELAY_SOURCE=sqs)      SQS_DLQ_URL -> SQS_INPUT_QUEUE_URL. A dead letter is deleted only once its
      original was sent; one that stays is made visible again when the run ends. On a FIFO dead-letter
      queue, one that stays holds the rest of its message group back until the next run.

options:
  --dry-run        say what would be done; send, delete and commit nothing (the default)
  --apply          replay
  --force          also replay events the ledger holds as settled, or with other content: the relay
                   answers them from the ledger without calling Dojo (never a second refund)
  --code <codes>   only dead letters with these codes (comma-separated): ${DEAD_LETTER_CODES.join(", ")};
                   others stay, each with a line
  --max <n>        stop after n replayed (in a dry run: n that would be)
  --rate <n>       send at most n per second (decimals allowed)
  --group <id>     Kafka: the consumer group that records progress (default <KAFKA_GROUP_ID>-replay)
  --json           the lines as JSON objects: {"decision", "eventId", "source", "code", "at", "reason"}
  -h, --help       show this help

One line per dead letter: "<decision> <event id> code=<code> at=<where>: <why>", decision one of
replayed, would-replay, skipped, failed; then a summary.

environment: as \`refund-relay start\` reads it: RELAY_SOURCE and the KAFKA_* or SQS_*/AWS_* settings,
LEDGER_URL and the other LEDGER_* settings, MAX_MESSAGE_BYTES (the size limit of validation).

exit status: 0 done (dead letters that stayed included), 1 failure (a broker, queue or the ledger
unreachable, a send failed: the run stops there), 2 usage or configuration error.
`;

interface Options {
  readonly apply: boolean;
  readonly force: boolean;
  readonly codes: ReadonlySet<string> | undefined;
  readonly max: number | undefined;
  readonly rate: number | undefined;
  readonly group: string | undefined;
  readonly json: boolean;
}

function options(parsed: Parsed): Options {
  if (parsed.positionals.length > 0) throw usage(`unexpected argument "${parsed.positionals[0]}"`);
  if (parsed.flags.has("--apply") && parsed.flags.has("--dry-run")) {
    throw usage("give --dry-run or --apply, not both");
  }
  const codesText = parsed.values.get("--code");
  let codes: Set<string> | undefined;
  if (codesText !== undefined) {
    codes = new Set(codesText.split(",").map((c) => c.trim()));
    for (const code of codes) {
      if (!(DEAD_LETTER_CODES as readonly string[]).includes(code)) {
        throw usage(`--code "${code}" is not a dead-letter code; use ${DEAD_LETTER_CODES.join(", ")}`);
      }
    }
  }
  const maxText = parsed.values.get("--max");
  if (maxText !== undefined && !/^[1-9]\d{0,8}$/.test(maxText)) throw usage("--max needs a positive integer");
  const rateText = parsed.values.get("--rate");
  if (rateText !== undefined && !(/^\d+(\.\d+)?$/.test(rateText) && Number(rateText) > 0)) {
    throw usage("--rate needs a positive number of events per second");
  }
  const group = parsed.values.get("--group");
  if (group !== undefined && group.trim() === "") throw usage("--group must not be empty");
  return {
    apply: parsed.flags.has("--apply"),
    force: parsed.flags.has("--force"),
    codes,
    max: maxText === undefined ? undefined : Number(maxText),
    rate: rateText === undefined ? undefined : Number(rateText),
    group: group?.trim(),
    json: parsed.flags.has("--json"),
  };
}

type LineDecision = "replayed" | "would-replay" | "skipped" | "failed";

/** Spaces sends `1/rate` seconds apart. */
function pacer(rate: number | undefined): () => Promise<void> {
  if (rate === undefined) return async () => {};
  const interval = 1000 / rate;
  let next = 0;
  return async () => {
    const now = performance.now();
    if (next > now) await new Promise((resolve) => setTimeout(resolve, next - now));
    next = Math.max(now, next) + interval;
  };
}

async function openReader(config: RelayConfig, o: Options, io: CliIo): Promise<DeadLetterReader> {
  if (config.source === "kafka") {
    if (o.group !== undefined && o.group === config.kafka?.groupId) {
      throw usage("--group must not be the relay's own group (KAFKA_GROUP_ID)");
    }
    const { openKafkaReader } = await import("./replay-kafka.ts");
    // kafkajs reports routine rebalancing as warnings; only errors reach the person.
    const logger = createLogger({ level: "error", destination: io.stderr });
    return openKafkaReader(config, {
      group: o.group ?? `${config.kafka?.groupId ?? "refund-relay"}-replay`,
      apply: o.apply,
      logger,
    });
  }
  if (o.group !== undefined) throw usage("--group is for Kafka (RELAY_SOURCE=kafka)");
  const { openSqsReader } = await import("./replay-sqs.ts");
  return openSqsReader(config, { apply: o.apply });
}

async function replay(parsed: Parsed, io: CliIo): Promise<number> {
  const o = options(parsed);
  let config: RelayConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new Stop(EXIT_USAGE, error.message);
    throw error;
  }
  const ledger = await openCommandLedger(config.ledger, commandLogger(io));
  let reader: DeadLetterReader | undefined;
  const counts = { replayed: 0, skipped: 0 };
  const line = (
    decision: LineDecision,
    letter: DeadLetter,
    reason: string,
    event?: { id?: string; source?: string },
  ) => {
    const eventId = event?.id ?? letter.eventId ?? null;
    if (o.json) {
      const record = {
        decision,
        eventId,
        source: event?.source ?? null,
        code: letter.code ?? null,
        at: letter.at,
        reason,
      };
      io.stdout.write(`${JSON.stringify(record)}\n`);
      return;
    }
    io.stdout.write(
      `${decision} ${eventId ?? "(no event id)"} code=${letter.code ?? "-"} at=${letter.at}: ${reason}\n`,
    );
  };
  const pace = pacer(o.rate);
  try {
    reader = await openReader(config, o, io);
    const where = config.source === "kafka" ? config.kafka?.dlqTopic : config.sqs?.dlqUrl;
    if (!o.json) io.stderr.write(`${o.apply ? "replaying" : "dry run: reading"} dead letters of ${where}\n`);
    await reader.run(
      async (letter, send) => {
        if (o.codes !== undefined && !o.codes.has(letter.code ?? "")) {
          counts.skipped++;
          line("skipped", letter, `code ${letter.code ?? "(none)"} not selected by --code`);
          return "kept";
        }
        if ("broken" in letter.original) {
          counts.skipped++;
          line("skipped", letter, letter.original.broken);
          return "kept";
        }
        const decision = await decide(letter.original, {
          ledger,
          maxBytes: config.maxMessageBytes,
          force: o.force,
        });
        const event = {
          ...(decision.eventId === undefined ? {} : { id: decision.eventId }),
          ...(decision.source === undefined ? {} : { source: decision.source }),
        };
        if (decision.action === "skip") {
          counts.skipped++;
          line("skipped", letter, decision.reason, event);
          return "kept";
        }
        if (!o.apply) {
          counts.replayed++;
          line("would-replay", letter, decision.reason, event);
          return "kept";
        }
        await pace();
        try {
          await send();
        } catch (error) {
          line("failed", letter, `sending it to the input failed: ${(error as Error).message}`, event);
          throw new Stop(EXIT_FAILURE, `stopped: a send failed (${(error as Error).message})`);
        }
        counts.replayed++;
        line("replayed", letter, decision.reason, event);
        return "replayed";
      },
      () => o.max !== undefined && counts.replayed >= o.max,
    );
  } finally {
    await Promise.allSettled([reader?.close(), ledger.close()]);
  }
  const total = counts.replayed + counts.skipped;
  const summary = o.apply
    ? `${total} dead letters looked at: ${counts.replayed} replayed, ${counts.skipped} stayed`
    : `dry run: ${total} dead letters looked at: ${counts.replayed} would be replayed, ${counts.skipped} would stay; nothing was sent (--apply to replay)`;
  const limit = o.max !== undefined && counts.replayed >= o.max ? ` (stopped at --max ${o.max})` : "";
  (o.json ? io.stderr : io.stdout).write(`${summary}${limit}\n`);
  return EXIT_OK;
}

export const replayCommand: Subcommand = {
  summary: "move dead letters back to the input after checking them again",
  async run(args: readonly string[], io: CliIo): Promise<number> {
    try {
      const parsed = parse(
        args,
        ["--code", "--max", "--rate", "--group"],
        ["--dry-run", "--apply", "--force", "--json"],
      );
      if (parsed === "help") {
        io.stdout.write(REPLAY_HELP);
        return EXIT_OK;
      }
      return await replay(parsed, io);
    } catch (error) {
      if (!(error instanceof Stop)) {
        io.stderr.write(`refund-relay replay: ${error instanceof Error ? error.message : String(error)}\n`);
        return EXIT_FAILURE;
      }
      const tail = error.showHelp ? `\n\n${REPLAY_HELP}` : "\n";
      io.stderr.write(`refund-relay replay: ${error.message}${tail}`);
      return error.code;
    }
  },
};
