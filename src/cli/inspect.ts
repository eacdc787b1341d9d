// `refund-relay inspect <id>`: what the ledger holds for an event id, a return id or a payment intent
// id, for a person answering "was this refunded?". Read-only: it opens the ledger as the relay would
// (LEDGER_URL and the other LEDGER_* settings), never creates one, sweeps nothing and writes nothing.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, loadLedgerConfig, type RelayConfig } from "../config.ts";
import {
  type IntentLease,
  type Ledger,
  type LedgerEntry,
  type LedgerLookup,
  openLedger,
  sqlitePath,
} from "../ledger/index.ts";
import { createLogger, type Logger } from "../logger.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";
import { nonBlank, type Parsed, parse, Stop, usage } from "./reconcile-args.ts";
import { entryView, formatMoney, mapLimited } from "./reconcile-outcome.ts";

export const INSPECT_HELP = `usage: refund-relay inspect <id> [--event | --return | --intent] [--source <source>]
                              [--limit <n>] [--json]

Shows what the ledger holds for an id: each matching event's state, Dojo attempts, idempotency key,
amount, refund id, outcome, why it is parked (if it is), when it was first seen and last changed, and the
lease on its payment intent. Without --event, --return or --intent the id is tried as each of them.

options:
  --event          the id is a return.approved event id (CloudEvents id), from any source
  --return         the id is a return id (data.returnId of the event); found from the copy of the event
                   the ledger keeps for parked events, or from the stored outcome once settled
  --intent         the id is a Dojo payment intent id: every event of that payment
  --source <uri>   only events from this CloudEvents source
  --limit <n>      at most n events per kind of id (default 50, up to 10000)
  --json           one JSON document on standard output: {"id", "kinds", "entries": [...], "truncated"}
  -h, --help       show this help

environment (as \`refund-relay start\` reads it):
  LEDGER_URL        sqlite:<path> (default sqlite:./data/refund-relay.db) or postgres://user@host:port/db
  LEDGER_PASSWORD_FILE, PGPASSWORD, LEDGER_SSL, LEDGER_SSL_CA_FILE, LEDGER_CONNECT_TIMEOUT_MS
                    a PostgreSQL ledger's password, TLS and connecting
  LEDGER_STATEMENT_TIMEOUT_MS
                    raised to at least 60000 here: a lookup by return id reads the whole table
  LEDGER_MIGRATE    auto (default) brings a PostgreSQL schema up to date on opening, as the relay does;
                    off only checks it

Nothing is written. An SQLite file that does not exist is an error, not an empty ledger.

exit status: 0 an entry was found, 1 none was found (or the ledger could not be read), 2 usage or
configuration error.
`;

const KINDS = ["event", "return", "intent"] as const;
type Kind = (typeof KINDS)[number];
const KIND_LABEL: Record<Kind, string> = {
  event: "event id",
  return: "return id",
  intent: "payment intent id",
};

const DEFAULT_LIMIT = 50;
/** A lookup by return id reads the whole table; the relay's statement timeout is for short writes. */
const MIN_STATEMENT_TIMEOUT_MS = 60_000;

export type LookupLedger = Ledger & LedgerLookup;

/**
 * Opens the ledger the relay's settings name, for a short-lived command: on the calling thread, no
 * retention sweep, a small pool with a statement timeout of at least `minStatementTimeoutMs`. A
 * missing SQLite file is refused (opening it would create an empty ledger that answers "not found").
 */
export async function openCommandLedger(
  ledger: RelayConfig["ledger"],
  logger: Logger,
  minStatementTimeoutMs = 0,
): Promise<LookupLedger> {
  const url = ledger.url;
  if (url.startsWith("sqlite:")) {
    const path = sqlitePath(url);
    if (path !== "" && path !== ":memory:" && !existsSync(resolve(path))) {
      throw new Stop(EXIT_USAGE, `LEDGER_URL: there is no ledger at ${resolve(path)}`);
    }
  }
  const postgres = ledger.postgres;
  try {
    return await openLedger(url, {
      synchronous: ledger.synchronous,
      thread: "caller",
      ...(postgres === undefined
        ? {}
        : {
            postgres: {
              ...postgres,
              sweepIntervalMs: 0,
              poolSize: Math.min(postgres.poolSize ?? 2, 2),
              statementTimeoutMs: Math.max(postgres.statementTimeoutMs ?? 0, minStatementTimeoutMs),
            },
          }),
      logger,
    });
  } catch (error) {
    throw new Stop(EXIT_FAILURE, `cannot open the ledger: ${(error as Error).message}`);
  }
}

/** Warnings and errors of the ledger (a lost connection), on standard error. */
export function commandLogger(io: CliIo): Logger {
  return createLogger({ level: "warn", destination: io.stderr });
}

interface Found {
  readonly entry: LedgerEntry;
  readonly matchedBy: Kind[];
}

/** The outcome as a person reads it first: its type and id, and the refund or the failure. */
export function outcomeSummary(outcome: unknown) {
  if (outcome === null || typeof outcome !== "object") return null;
  const o = outcome as { type?: unknown; id?: unknown; time?: unknown; data?: Record<string, unknown> };
  const data = o.data ?? {};
  const text = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    type: text(o.type),
    id: text(o.id),
    time: text(o.time),
    refundId: text(data.refundId),
    method: text(data.method),
    code: text(data.code),
    message: text(data.message),
  };
}

function describeOutcome(summary: ReturnType<typeof outcomeSummary>): string {
  if (summary === null) return "none yet";
  const parts = [summary.type ?? "(unknown type)"];
  if (summary.code !== null) parts.push(`code ${summary.code}`);
  if (summary.refundId !== null) parts.push(`refund ${summary.refundId}`);
  if (summary.method !== null) parts.push(`by ${summary.method}`);
  if (summary.id !== null) parts.push(`outcome id ${summary.id}`);
  if (summary.time !== null) parts.push(`at ${summary.time}`);
  let line = parts.join(", ");
  if (summary.message !== null) line += `: ${oneLine(summary.message)}`;
  return line;
}

/** The return id the stored event or outcome names, if the ledger kept either. */
export function returnIdOf(entry: LedgerEntry): string | null {
  for (const doc of [entry.event, entry.outcome]) {
    const id = (doc as { data?: { returnId?: unknown } } | null | undefined)?.data?.returnId;
    if (typeof id === "string") return id;
  }
  return null;
}

function leaseView(lease: IntentLease | undefined, now: Date) {
  if (lease === undefined) return null;
  const released = lease.expiresAt.getTime() === 0;
  return {
    owner: lease.owner,
    token: lease.token,
    expiresAt: lease.expiresAt.toISOString(),
    status: lease.expiresAt > now ? "held" : released ? "released" : "expired",
  };
}

function describeLease(view: ReturnType<typeof leaseView>): string {
  if (view === null) return "none";
  if (view.status === "held") return `held by ${view.owner} until ${view.expiresAt} (token ${view.token})`;
  if (view.status === "released") return `free (last released by ${view.owner}, token ${view.token})`;
  return `free (expired ${view.expiresAt}, last held by ${view.owner}, token ${view.token})`;
}

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

function kindsOf(parsed: Parsed): Kind[] {
  const chosen = KINDS.filter((k) => parsed.flags.has(`--${k}`));
  return chosen.length === 0 ? [...KINDS] : chosen;
}

function limitOf(parsed: Parsed): number {
  const text = parsed.values.get("--limit") ?? String(DEFAULT_LIMIT);
  if (!/^[1-9]\d{0,4}$/.test(text) || Number(text) > 10_000) {
    throw usage("--limit needs an integer from 1 to 10000");
  }
  return Number(text);
}

async function lookUp(
  ledger: LookupLedger,
  id: string,
  kinds: readonly Kind[],
  limit: number,
): Promise<{ found: Found[]; truncated: boolean }> {
  const byKey = new Map<string, Found>();
  let truncated = false;
  for (const kind of kinds) {
    const entries =
      kind === "event"
        ? await ledger.findByEventId(id, limit)
        : kind === "return"
          ? await ledger.findByReturnId(id, limit)
          : await ledger.findByPaymentIntent(id, limit);
    if (entries.length >= limit) truncated = true;
    for (const entry of entries) {
      const key = `${entry.source}\n${entry.eventId}`;
      const known = byKey.get(key);
      if (known === undefined) byKey.set(key, { entry, matchedBy: [kind] });
      else known.matchedBy.push(kind);
    }
  }
  const found = [...byKey.values()].sort(
    (a, b) => a.entry.firstSeenAt.getTime() - b.entry.firstSeenAt.getTime(),
  );
  return { found, truncated };
}

function render(found: Found, lease: ReturnType<typeof leaseView>): string {
  const { entry } = found;
  const v = entryView(entry);
  const lines: Array<[string, string]> = [
    ["state", `${v.state} (attempts ${v.attempts}${v.method === null ? "" : `, method ${v.method}`})`],
    ["amount", formatMoney(entry.amount, entry.currencyCode)],
    ["payment intent", v.paymentIntentId],
    ["merchant", v.merchantId ?? "(default account)"],
    ["return id", returnIdOf(entry) ?? "(not kept)"],
    ["idempotency key", v.idempotencyKey],
    ["refund id", v.refundId ?? "-"],
    ["outcome", describeOutcome(outcomeSummary(entry.outcome))],
    ["parked", v.parked === null ? "no" : `${v.parked.code} at ${v.parked.at}: ${oneLine(v.parked.reason)}`],
    ["last error", v.lastError === null ? "-" : oneLine(v.lastError)],
    ["first seen", v.firstSeenAt],
    ["updated", v.updatedAt],
    ["intent lease", describeLease(lease)],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  const matched = found.matchedBy.map((k) => KIND_LABEL[k]).join(", ");
  return `${entry.eventId} from ${entry.source} (matched as ${matched})\n${lines
    .map(([k, value]) => `  ${k.padEnd(width)}  ${value}\n`)
    .join("")}`;
}

async function inspect(parsed: Parsed, io: CliIo): Promise<number> {
  const [id, extra] = parsed.positionals;
  if (id === undefined || id.trim() === "") throw usage("give the id to look up");
  if (extra !== undefined) throw usage(`unexpected argument "${extra}"`);
  const kinds = kindsOf(parsed);
  const limit = limitOf(parsed);
  const source = nonBlank(parsed, "--source");
  const json = parsed.flags.has("--json");
  let config: RelayConfig["ledger"];
  try {
    config = loadLedgerConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new Stop(EXIT_USAGE, error.message);
    throw error;
  }
  const ledger = await openCommandLedger(config, commandLogger(io), MIN_STATEMENT_TIMEOUT_MS);
  try {
    const { found: all, truncated } = await lookUp(ledger, id, kinds, limit);
    const found = source === undefined ? all : all.filter((f) => f.entry.source === source);
    const intents = [...new Set(found.map((f) => f.entry.paymentIntentId))];
    const now = new Date();
    const leases = new Map(
      await mapLimited(intents, 4, async (pi) => [pi, leaseView(await ledger.intentLease(pi), now)] as const),
    );
    if (json) {
      const entries = found.map((f) => ({
        ...entryView(f.entry),
        matchedBy: f.matchedBy,
        returnId: returnIdOf(f.entry),
        outcomeSummary: outcomeSummary(f.entry.outcome),
        outcome: f.entry.outcome,
        event: f.entry.event ?? null,
        lease: leases.get(f.entry.paymentIntentId) ?? null,
      }));
      io.stdout.write(
        `${JSON.stringify({ id, kinds, ...(source === undefined ? {} : { source }), entries, truncated })}\n`,
      );
      return found.length > 0 ? EXIT_OK : EXIT_FAILURE;
    }
    const as = kinds.map((k) => KIND_LABEL[k]).join(", ");
    const from = source === undefined ? "" : ` from ${source}`;
    if (found.length === 0) {
      io.stdout.write(`no ledger entry for ${JSON.stringify(id)}${from} (looked up as ${as})\n`);
      return EXIT_FAILURE;
    }
    const count = found.length === 1 ? "1 entry" : `${found.length} entries`;
    let out = `${count} for ${JSON.stringify(id)}${from} (looked up as ${as})\n`;
    for (const f of found) out += `\n${render(f, leases.get(f.entry.paymentIntentId) ?? null)}`;
    io.stdout.write(out);
    if (truncated) io.stderr.write(`(a lookup stopped at --limit ${limit}; more may match: raise --limit)\n`);
    return EXIT_OK;
  } finally {
    await ledger.close().catch(() => undefined);
  }
}

export const inspectCommand: Subcommand = {
  summary: "show the ledger's entries for an event id, return id or payment intent id",
  async run(args: readonly string[], io: CliIo): Promise<number> {
    try {
      const parsed = parse(args, ["--source", "--limit"], ["--event", "--return", "--intent", "--json"]);
      if (parsed === "help") {
        io.stdout.write(INSPECT_HELP);
        return EXIT_OK;
      }
      return await inspect(parsed, io);
    } catch (error) {
      if (!(error instanceof Stop)) {
        // The ledger failed mid-way: the message is what the person can act on.
        io.stderr.write(`refund-relay inspect: ${error instanceof Error ? error.message : String(error)}\n`);
        return EXIT_FAILURE;
      }
      const tail = error.showHelp ? `\n\n${INSPECT_HELP}` : "\n";
      io.stderr.write(`refund-relay inspect: ${error.message}${tail}`);
      return error.code;
    }
  },
};
