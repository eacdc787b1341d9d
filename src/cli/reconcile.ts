// `refund-relay reconcile`: the person's side of parked events. An event is parked when the relay
// cannot decide it alone (Dojo's answer stayed unknown, the retry budget ran out, an internal error, a
// merchant without a key); its Kafka offset is committed, so nothing retries it. These commands list
// and show such events with a fresh read of the payment intent, and settle one by hand: the outcome is
// built and published exactly as the relay would, and the ledger keeps who decided and why.
import {
  FAILURE_CODES,
  type FailureCode,
  LIMITS,
  type OutcomeEvent,
  OutcomeValidationError,
} from "../../schemas/index.ts";
import { type EventRef, SETTLED_STATES } from "../ledger/index.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";
import { nonBlank, oneEventId, type Parsed, parse, Stop, usage } from "./reconcile-args.ts";
import { HELP, LIST_HELP, PUBLISH_HELP, SETTLE_HELP, SHOW_HELP } from "./reconcile-help.ts";
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
import { findEntry, openDojo, openSession, type Session } from "./reconcile-session.ts";

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
