// `refund-relay reconcile`: the person's side of parked events. An event is parked when the relay
// cannot decide it alone (Dojo's answer stayed unknown, the retry budget ran out, an internal error, a
// merchant without a key); its Kafka offset is committed, so nothing retries it. These commands list
// and show such events with a fresh read of the payment intent, and settle one by hand: the outcome is
// built and published exactly as the relay would, and the ledger keeps who decided and why.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import {
  FAILURE_CODES,
  type FailureCode,
  LIMITS,
  type OutcomeEvent,
  OutcomeValidationError,
} from "../../schemas/index.ts";
import { ConfigError, loadConfig, type RelayConfig } from "../config.ts";
import { createDojoClient } from "../dojo/index.ts";
import { type EventRef, type Ledger, type LedgerEntry, openLedger, SETTLED_STATES } from "../ledger/index.ts";
import { createLogger, type Logger, silentLogger } from "../logger.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";
import {
  auditView,
  connectOutcomePublisher,
  describeDojo,
  describeStored,
  entryView,
  formatMoney,
  KafkaSetupError,
  type ManualDecision,
  ManualOutcomeError,
  manualOutcome,
  mapLimited,
  type OutcomePublisher,
  readDojo,
  table,
  topicOf,
} from "./reconcile-outcome.ts";

const LEDGER_VARS = `  LEDGER_URL, LEDGER_SYNC      the ledger (default sqlite:./data/refund-relay.db)`;
const DOJO_VARS = `  DOJO_BASE_URL, DOJO_API_KEY or DOJO_API_KEY_FILE, DOJO_ACCOUNTS_FILE or DOJO_ACCOUNTS_JSON,
  DOJO_API_VERSION, DOJO_CONNECT_TIMEOUT_MS, DOJO_TIMEOUT_MS
                               the fresh read of each payment intent (the event's merchant picks the key)`;
const KAFKA_VARS = `  KAFKA_BROKERS, KAFKA_CLIENT_ID, KAFKA_SSL*, KAFKA_SASL_*
                               the brokers the outcome is published to
  KAFKA_SUCCEEDED_TOPIC, KAFKA_FAILED_TOPIC, OUTCOME_MODE
                               where and how it is published, as the relay does
  EVENT_SOURCE                 the outcome's CloudEvents source`;
const CHECKED = `The rest of the environment is checked as for \`refund-relay start\` (a bad value is a configuration
error), except that KAFKA_BROKERS is only required where Kafka is used. Secrets are never printed.`;
const EXITS =
  "exit status: 0 ok, 1 failure (not found, already settled, publish failed), 2 usage or configuration error.";

/** Words of \`text\` in lines of at most \`width\` characters, each starting with \`indent\`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = indent;
  for (const word of text.split(" ")) {
    if (line.length + word.length > width && line.trim() !== "") {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join("\n");
}

const HELP = `usage: refund-relay reconcile <list|show|settle|publish> [options]

Events the relay parked for a person (Dojo's answer stayed unknown, the retry budget ran out, an internal
error, a merchant without a key) wait in the ledger until someone settles them.

  list [--json] [--limit <n>]              the open parked events, with a fresh read of each payment intent
  show <eventId> [--source <s>] [--json]   one event in full: ledger row, stored event, outcome, audit
  settle <eventId> [--source <s>] --as succeeded --refund-id <id> --reason <why> [--actor <who>]
  settle <eventId> [--source <s>] --as failed --code <code> --reason <why> [--actor <who>]
                                           store the outcome with an audit record and publish it
  publish <eventId> --source <s>           publish an event's stored outcome again

Run \`refund-relay reconcile <command> --help\` for details.

${EXITS}
`;

const LIST_HELP = `usage: refund-relay reconcile list [--json] [--limit <n>]

Lists open events parked for a person, oldest first: source and id, payment intent, amount, state,
Dojo attempts, why and when it was parked, and what a fresh read of the payment intent says (status,
captured, refunded) or "unreadable: <error code>".

options:
  --json        one JSON object per line instead of a table
  --limit <n>   at most n events (default 100)
  -h, --help    show this help

environment:
${LEDGER_VARS}
${DOJO_VARS}

${CHECKED}

${EXITS}
`;

const SHOW_HELP = `usage: refund-relay reconcile show <eventId> [--source <source>] [--json]

Shows one event in full: the ledger row, the event as received, the stored outcome, the audit records,
and a fresh read of the payment intent. Without --source the event is looked up among the parked events;
give --source for any other event.

environment:
${LEDGER_VARS}
${DOJO_VARS}

${CHECKED}

${EXITS}
`;

const SETTLE_HELP = `usage: refund-relay reconcile settle <eventId> [--source <source>] --as succeeded --refund-id <id> --reason <why>
       refund-relay reconcile settle <eventId> [--source <source>] --as failed --code <code> --reason <why>

Settles an open event by hand: builds its refund.succeeded or refund.failed from the event kept in the
ledger (the same ids and fields the relay would use), stores it with an audit record (who, why), publishes
it to the outcome topic keyed by payment intent id, and marks it published. Check Dojo first (\`show\`):
settle as succeeded only with the id of the refund that paid this return, as failed only when no refund
for it exists and none will.

options:
  --source <s>      the event's CloudEvents source (default: the only parked event with this id)
  --as <outcome>    succeeded or failed
  --refund-id <id>  with --as succeeded: the Dojo refund (or reversal) id
  --code <code>     with --as failed, one of:
${wrap(FAILURE_CODES.join(", "), 100, "                      ")}
  --reason <why>    required: why it is settled this way (kept in the audit record; the failure message)
  --actor <who>     who settles it (default $USER, else "unknown")
  --force           settle an open event that is not parked (a relay may still be working on it)
  --dry-run         print the outcome; change nothing, publish nothing
  -h, --help        show this help

environment:
${LEDGER_VARS}
${KAFKA_VARS}
  USER                         the default actor

${CHECKED}

${EXITS}
`;

const PUBLISH_HELP = `usage: refund-relay reconcile publish <eventId> --source <source>

Publishes the stored outcome of a settled event again and marks it published: for an event settled by
hand whose publication failed. Consumers receive the same outcome id again, which they treat as a
duplicate.

environment:
${LEDGER_VARS}
${KAFKA_VARS}

${CHECKED}

${EXITS}
`;

/** Ends the command with an exit code and a message for standard error. */
class Stop extends Error {
  readonly code: number;
  /** The command line itself is wrong: the help follows the message. */
  readonly showHelp: boolean;
  constructor(code: number, message: string, showHelp = false) {
    super(message);
    this.code = code;
    this.showHelp = showHelp;
  }
}

const usage = (message: string) => new Stop(EXIT_USAGE, message, true);

interface Parsed {
  readonly positionals: readonly string[];
  readonly values: ReadonlyMap<string, string>;
  readonly flags: ReadonlySet<string>;
}

function parse(
  args: readonly string[],
  valueOptions: readonly string[],
  flagOptions: readonly string[],
): Parsed | "help" {
  const positionals: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") return "help";
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg !== "-") throw usage(`unknown option "${arg}"`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (flagOptions.includes(name)) {
      if (eq >= 0) throw usage(`${name} takes no value`);
      flags.add(name);
    } else if (valueOptions.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw usage(`${name} needs a value`);
      if (values.has(name)) throw usage(`${name} given twice`);
      values.set(name, value);
    } else {
      throw usage(`unknown option "${name}"`);
    }
  }
  return { positionals, values, flags };
}

function oneEventId(parsed: Parsed): string {
  const [eventId, extra] = parsed.positionals;
  if (eventId === undefined || eventId.trim() === "") throw usage("give the event id");
  if (extra !== undefined) throw usage(`unexpected argument "${extra}"`);
  return eventId;
}

function nonBlank(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values.get(name);
  if (value !== undefined && value.trim() === "") throw usage(`${name} must not be empty`);
  return value?.trim();
}

interface Session {
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

async function openSession(io: CliIo, needsKafka: boolean): Promise<Session> {
  const config = configFromEnv(needsKafka);
  // Warnings and errors only, and on standard error: standard output is the command's answer.
  const quiet = ["error", "fatal", "silent"].includes(config.logLevel);
  const logger = createLogger({ level: quiet ? config.logLevel : "warn", destination: io.stderr });
  const url = config.ledger.url;
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\//, "");
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

function openDojo(session: Session) {
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
async function findEntry(ledger: Ledger, eventId: string, source: string | undefined): Promise<LedgerEntry> {
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

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

async function list(parsed: Parsed, io: CliIo): Promise<number> {
  if (parsed.positionals.length > 0) throw usage(`unexpected argument "${parsed.positionals[0]}"`);
  const limitText = parsed.values.get("--limit") ?? "100";
  if (!/^[1-9]\d{0,5}$/.test(limitText)) throw usage("--limit needs an integer from 1 to 999999");
  const json = parsed.flags.has("--json");
  const session = await openSession(io, false);
  const dojo = openDojo(session);
  try {
    const entries = await session.ledger.listParked(Number(limitText));
    const reads = await mapLimited(entries, 8, (e) => readDojo(dojo, e));
    if (entries.length === Number(limitText)) {
      io.stderr.write(`(showing the first ${limitText}; more may be parked: raise --limit)\n`);
    }
    if (json) {
      entries.forEach((e, i) => {
        io.stdout.write(`${JSON.stringify({ ...entryView(e), dojo: reads[i] })}\n`);
      });
      return EXIT_OK;
    }
    if (entries.length === 0) {
      io.stdout.write("no parked events\n");
      return EXIT_OK;
    }
    const header = [
      "SOURCE",
      "EVENT ID",
      "PAYMENT INTENT",
      "AMOUNT",
      "STATE",
      "ATTEMPTS",
      "PARKED",
      "PARKED AT",
    ];
    const rows = entries.map((e) => [
      e.source,
      e.eventId,
      e.paymentIntentId,
      formatMoney(e.amount, e.currencyCode),
      e.state,
      String(e.attempts),
      e.parked?.code ?? "",
      e.parked?.at.toISOString() ?? "",
    ]);
    // The Dojo read and the reason are too long for columns: each gets its own line under its row.
    const [head, ...lines] = table(header, rows);
    let out = `${head}\n`;
    lines.forEach((line, i) => {
      const e = entries[i]!;
      out += `${line}\n    dojo:   ${describeDojo(reads[i]!, e.currencyCode)}\n    reason: ${oneLine(e.parked?.reason ?? "")}\n`;
    });
    io.stdout.write(out);
    return EXIT_OK;
  } finally {
    await Promise.allSettled([dojo.close(), session.ledger.close()]);
  }
}

async function show(parsed: Parsed, io: CliIo): Promise<number> {
  const eventId = oneEventId(parsed);
  const source = nonBlank(parsed, "--source");
  const session = await openSession(io, false);
  const dojo = openDojo(session);
  try {
    const entry = await findEntry(session.ledger, eventId, source);
    const [audit, read] = await Promise.all([session.ledger.audit(entry), readDojo(dojo, entry)]);
    if (parsed.flags.has("--json")) {
      const view = {
        ...entryView(entry),
        event: entry.event ?? null,
        outcome: entry.outcome,
        audit: audit.map(auditView),
        dojo: read,
      };
      io.stdout.write(`${JSON.stringify(view)}\n`);
      return EXIT_OK;
    }
    const v = entryView(entry);
    const lines: Array<[string, string]> = [
      ["source", v.source],
      ["event id", v.eventId],
      ["state", `${v.state} (attempts ${v.attempts}${v.method === null ? "" : `, method ${v.method}`})`],
      ["payment intent", v.paymentIntentId],
      ["merchant", v.merchantId ?? "(default account)"],
      ["amount", formatMoney(entry.amount, entry.currencyCode)],
      ["idempotency key", v.idempotencyKey],
      ["first seen", v.firstSeenAt],
      ["updated", v.updatedAt],
      ["last error", v.lastError ?? "-"],
      [
        "parked",
        v.parked === null ? "no" : `${v.parked.code} at ${v.parked.at}: ${oneLine(v.parked.reason)}`,
      ],
      ["refund id", v.refundId ?? "-"],
      ["dojo now", describeDojo(read, entry.currencyCode)],
    ];
    const width = Math.max(...lines.map(([k]) => k.length));
    let out = lines.map(([k, value]) => `${k.padEnd(width)}  ${value}\n`).join("");
    const indent = (value: unknown) => JSON.stringify(value, null, 2).replace(/^/gm, "  ");
    out += `event:\n${entry.event === undefined ? "  (not kept)" : indent(entry.event)}\n`;
    out += `outcome:\n${entry.outcome === null ? "  (none yet)" : indent(entry.outcome)}\n`;
    out += "audit:\n";
    if (audit.length === 0) out += "  (none)\n";
    for (const a of audit) {
      out += `  ${a.at.toISOString()}  ${a.actor}  ${a.action}  ${a.previousState} -> ${a.newState}  ${oneLine(a.reason)}\n`;
    }
    io.stdout.write(out);
    return EXIT_OK;
  } finally {
    await Promise.allSettled([dojo.close(), session.ledger.close()]);
  }
}

function decisionOf(parsed: Parsed): { decision: ManualDecision; reason: string } {
  const as = parsed.values.get("--as");
  const reason = nonBlank(parsed, "--reason");
  const refundId = nonBlank(parsed, "--refund-id");
  const code = nonBlank(parsed, "--code");
  if (as === undefined) throw usage("give --as succeeded or --as failed");
  if (reason === undefined) throw usage("give --reason: why the event is settled this way");
  if (reason.length > 2000) throw usage("--reason is limited to 2000 characters");
  if (as === "succeeded") {
    if (code !== undefined) throw usage("--code goes with --as failed");
    if (refundId === undefined) throw usage("--as succeeded needs --refund-id <Dojo refund id>");
    if (refundId.length > LIMITS.refundId || !/^[!-~]+$/.test(refundId)) {
      throw usage(`--refund-id must be 1-${LIMITS.refundId} printable ASCII characters without spaces`);
    }
    return { decision: { as, refundId }, reason };
  }
  if (as === "failed") {
    if (refundId !== undefined) throw usage("--refund-id goes with --as succeeded");
    if (code === undefined) throw usage(`--as failed needs --code (${FAILURE_CODES.join(", ")})`);
    if (!(FAILURE_CODES as readonly string[]).includes(code)) {
      throw usage(`--code "${code}" is not a failure code; use one of ${FAILURE_CODES.join(", ")}`);
    }
    return { decision: { as, code: code as FailureCode, message: reason }, reason };
  }
  throw usage(`--as must be succeeded or failed, not "${as}"`);
}

/** Connects the outcome publisher; a Kafka that cannot take the outcome stops the command unchanged. */
async function publisherFor(session: Session, topic: string): Promise<OutcomePublisher> {
  try {
    return await connectOutcomePublisher(session.config, session.logger, topic);
  } catch (error) {
    if (!(error instanceof KafkaSetupError)) throw error;
    throw new Stop(error.missingTopic ? EXIT_USAGE : EXIT_FAILURE, `${error.message}; nothing was changed`);
  }
}

/** A word as a POSIX shell reads it back, for commands the person is told to run. */
const shellWord = (word: string) =>
  /^[\w:./@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
const refText = (ref: EventRef) => `${shellWord(ref.eventId)} --source ${shellWord(ref.source)}`;

async function settle(parsed: Parsed, io: CliIo): Promise<number> {
  const eventId = oneEventId(parsed);
  const source = nonBlank(parsed, "--source");
  const { decision, reason } = decisionOf(parsed);
  const actor = nonBlank(parsed, "--actor") ?? (process.env.USER?.trim() || "unknown");
  const dryRun = parsed.flags.has("--dry-run");
  const session = await openSession(io, !dryRun);
  const { config, ledger } = session;
  let publisher: OutcomePublisher | undefined;
  try {
    const entry = await findEntry(ledger, eventId, source);
    const ref: EventRef = { source: entry.source, eventId: entry.eventId };
    if (SETTLED_STATES.has(entry.state)) {
      const hint =
        entry.state === "published"
          ? ""
          : `; to publish it, run: refund-relay reconcile publish ${refText(ref)}`;
      throw new Stop(
        EXIT_FAILURE,
        `${entry.eventId} from ${entry.source} is already settled: ${describeStored(entry)}${hint}`,
      );
    }
    if (entry.parked === null && !parsed.flags.has("--force")) {
      throw new Stop(
        EXIT_FAILURE,
        `${entry.eventId} from ${entry.source} is open (state ${entry.state}) but not parked: a relay may still be working on it. Settle it only once no relay will, with --force`,
      );
    }
    let outcome: OutcomeEvent;
    try {
      outcome = manualOutcome(entry, decision, config.eventSource, new Date());
    } catch (error) {
      if (error instanceof ManualOutcomeError || error instanceof OutcomeValidationError) {
        throw new Stop(EXIT_FAILURE, `cannot build the outcome: ${(error as Error).message}`);
      }
      throw error;
    }
    const topic = topicOf(config, outcome);
    const what = `${outcome.type} ${outcome.id} to ${topic} (key ${entry.paymentIntentId})`;
    if (dryRun) {
      io.stdout.write(
        `dry run: would settle ${ref.eventId} from ${ref.source} as ${decision.as} by ${actor} and publish ${what}:\n`,
      );
      io.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
      return EXIT_OK;
    }
    publisher = await publisherFor(session, topic);
    const settled = await ledger.settleByHand(
      ref,
      {
        state: decision.as,
        outcome,
        refundId: decision.as === "succeeded" ? decision.refundId : null,
        actor,
        reason,
      },
      new Date(),
    );
    if (!settled.ok) {
      throw new Stop(
        EXIT_FAILURE,
        `not settled: ${settled.reason}; stored: ${describeStored(settled.entry)}`,
      );
    }
    io.stdout.write(`settled ${ref.eventId} from ${ref.source} as ${decision.as} by ${actor}\n`);
    try {
      await publisher.publish(outcome);
    } catch (error) {
      throw new Stop(
        EXIT_FAILURE,
        `the outcome is stored in the ledger, but publishing it failed: ${(error as Error).message}; retry with: refund-relay reconcile publish ${refText(ref)}`,
      );
    }
    await ledger.markPublished(ref, new Date());
    io.stdout.write(`published ${what}\n`);
    return EXIT_OK;
  } finally {
    await Promise.allSettled([publisher?.close(), ledger.close()]);
  }
}

async function publish(parsed: Parsed, io: CliIo): Promise<number> {
  const eventId = oneEventId(parsed);
  // A settled event is no longer parked, so it cannot be found by id alone.
  const source = nonBlank(parsed, "--source");
  if (source === undefined) throw usage("give --source <source>");
  const session = await openSession(io, true);
  const { config, ledger } = session;
  let publisher: OutcomePublisher | undefined;
  try {
    const entry = await findEntry(ledger, eventId, source);
    if (!SETTLED_STATES.has(entry.state) || entry.outcome === null) {
      throw new Stop(
        EXIT_FAILURE,
        `${entry.eventId} from ${entry.source} has no outcome yet (state ${entry.state}); settle it first`,
      );
    }
    const outcome = entry.outcome as OutcomeEvent;
    const topic = topicOf(config, outcome);
    publisher = await publisherFor(session, topic);
    try {
      await publisher.publish(outcome);
    } catch (error) {
      throw new Stop(EXIT_FAILURE, `publishing failed: ${(error as Error).message}`);
    }
    await ledger.markPublished(entry, new Date());
    io.stdout.write(`published ${outcome.type} ${outcome.id} to ${topic} (key ${entry.paymentIntentId})\n`);
    return EXIT_OK;
  } finally {
    await Promise.allSettled([publisher?.close(), ledger.close()]);
  }
}

const ACTIONS: Record<
  string,
  { help: string; values: string[]; flags: string[]; run: (parsed: Parsed, io: CliIo) => Promise<number> }
> = {
  list: { help: LIST_HELP, values: ["--limit"], flags: ["--json"], run: list },
  show: { help: SHOW_HELP, values: ["--source"], flags: ["--json"], run: show },
  settle: {
    help: SETTLE_HELP,
    values: ["--source", "--as", "--refund-id", "--code", "--reason", "--actor"],
    flags: ["--dry-run", "--force"],
    run: settle,
  },
  publish: { help: PUBLISH_HELP, values: ["--source"], flags: [], run: publish },
};

export const reconcileCommand: Subcommand = {
  summary: "list, show and settle events parked for a person",
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const [name, ...rest] = args;
    if (name === undefined) {
      io.stderr.write(HELP);
      return EXIT_USAGE;
    }
    if (name === "--help" || name === "-h" || name === "help") {
      io.stdout.write(HELP);
      return EXIT_OK;
    }
    const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
    if (action === undefined) {
      io.stderr.write(`refund-relay reconcile: unknown command "${name}"\n\n${HELP}`);
      return EXIT_USAGE;
    }
    try {
      const parsed = parse(rest, action.values, action.flags);
      if (parsed === "help") {
        io.stdout.write(action.help);
        return EXIT_OK;
      }
      return await action.run(parsed, io);
    } catch (error) {
      if (!(error instanceof Stop)) {
        // A ledger or broker failure mid-way: the message is what the person can act on.
        io.stderr.write(
          `refund-relay reconcile ${name}: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        return EXIT_FAILURE;
      }
      const tail = error.showHelp ? `\n\n${action.help}` : "\n";
      io.stderr.write(`refund-relay reconcile ${name}: ${error.message}${tail}`);
      return error.code;
    }
  },
};
