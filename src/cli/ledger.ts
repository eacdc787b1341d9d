// `refund-relay ledger`: the PostgreSQL ledger's schema as an operator sees it. `migrate` applies the
// schema migrations ahead of a deploy (for relays started with LEDGER_MIGRATE=off, or an account that
// may not change the schema); `status` shows the schema version and how many events are in each state.
import type pg from "pg";
import { ConfigError, loadLedgerConfig, type RelayConfig } from "../config.ts";
import { isPostgresUrl, LEDGER_STATES, SETTLED_STATES } from "../ledger/index.ts";
import { latestVersion, migrate, readSchemaState } from "../ledger/postgres-migrations.ts";
import { connectClient, connectionTarget } from "../ledger/postgres-pool.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";

const HELP = `usage: refund-relay ledger <migrate|status> [--json]

The PostgreSQL ledger's schema (LEDGER_URL=postgres://... or postgresql://...).

  migrate          apply the schema migrations this refund-relay ships and print what was applied; run it
                   ahead of a deploy when the relays run with LEDGER_MIGRATE=off. Safe to run again, and
                   from several places at once (they take turns, the work is done once)
  status [--json]  the schema version, and the number of events in each state, parked and leased

environment:
  LEDGER_URL                   the ledger, postgres://user@host:port/database
  LEDGER_PASSWORD_FILE, PGPASSWORD
                               the password, when the URL has none
  LEDGER_SSL, LEDGER_SSL_CA_FILE, LEDGER_CONNECT_TIMEOUT_MS
                               TLS and connecting, as for \`refund-relay start\`

An SQLite ledger (sqlite:<path>) is migrated by the relay itself when it opens the file.
Secrets are never printed.

exit status: 0 ok, 1 failure (cannot connect, migration failed), 2 usage or configuration error.
`;

/** Counting a large table takes a while; the relay's own statement timeout is for short statements. */
const STATEMENT_TIMEOUT_MS = 120_000;

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

type LedgerConfig = RelayConfig["ledger"];

function config(): LedgerConfig {
  let ledger: LedgerConfig;
  try {
    ledger = loadLedgerConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new Stop(EXIT_USAGE, error.message);
    throw error;
  }
  if (!isPostgresUrl(ledger.url)) {
    throw new Stop(
      EXIT_USAGE,
      `LEDGER_URL: \`refund-relay ledger\` works on a PostgreSQL ledger (postgres://...), not ${ledger.url}; an SQLite ledger is migrated when the relay opens it`,
    );
  }
  return ledger;
}

async function withClient<T>(
  ledger: LedgerConfig,
  statementTimeoutMs: number | undefined,
  work: (client: pg.Client) => Promise<T>,
) {
  const target = connectionTarget(ledger.url, ledger.postgres);
  let client: pg.Client;
  try {
    client = await connectClient(target, () => undefined, statementTimeoutMs);
  } catch (error) {
    throw new Stop(EXIT_FAILURE, (error as Error).message);
  }
  try {
    return await work(client);
  } catch (error) {
    if (error instanceof Stop) throw error;
    throw new Stop(EXIT_FAILURE, `${(error as Error).message} (${target.display})`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function runMigrate(io: CliIo): Promise<void> {
  const ledger = config();
  // No statement timeout: a migration of a large table may take minutes.
  const report = await withClient(ledger, undefined, (client) => migrate(client));
  for (const m of report.applied) io.stdout.write(`applied ${m.name} (version ${m.version})\n`);
  io.stdout.write(
    report.applied.length === 0
      ? `ledger ${ledger.url}: schema already at version ${report.to}; nothing to apply\n`
      : `ledger ${ledger.url}: schema version ${report.to} (was ${report.from})\n`,
  );
}

interface Status {
  readonly ledger: string;
  readonly schema: { version: number; known: number; migrations: string[] };
  readonly events?: { total: number; open: number; settled: number; byState: Record<string, number> };
  readonly parked?: number;
  readonly leasesHeld?: number;
}

async function readStatus(client: pg.Client, url: string): Promise<Status> {
  const state = await readSchemaState(client);
  const schema = {
    version: state.version,
    known: latestVersion(),
    migrations: state.applied.map((m) => m.name),
  };
  if (!state.exists) return { ledger: url, schema };
  const byState: Record<string, number> = Object.fromEntries(LEDGER_STATES.map((s) => [s, 0]));
  const counts = await client.query<{ state: string; n: number }>(
    "SELECT state, count(*)::integer AS n FROM refund_events GROUP BY state",
  );
  for (const row of counts.rows) byState[row.state] = row.n;
  const settled = LEDGER_STATES.filter((s) => SETTLED_STATES.has(s)).reduce(
    (n, s) => n + (byState[s] ?? 0),
    0,
  );
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  const parked = await client.query<{ n: number }>(
    `SELECT count(*)::integer AS n FROM refund_events
      WHERE parked_code IS NOT NULL AND state IN ('received', 'submitting', 'unknown')`,
  );
  const leases = await client.query<{ n: number }>(
    "SELECT count(*)::integer AS n FROM intent_leases WHERE expires_at > $1",
    [Date.now()],
  );
  return {
    ledger: url,
    schema,
    events: { total, open: total - settled, settled, byState },
    parked: parked.rows[0]?.n ?? 0,
    leasesHeld: leases.rows[0]?.n ?? 0,
  };
}

function describeSchema({ version, known }: Status["schema"]): string {
  if (version === 0) return "none: run `refund-relay ledger migrate`";
  if (version < known)
    return `version ${version} (this refund-relay knows ${known}: run \`refund-relay ledger migrate\`)`;
  if (version > known) return `version ${version} (newer than this refund-relay knows, ${known})`;
  return `version ${version} (this refund-relay knows ${known})`;
}

async function runStatus(io: CliIo, json: boolean): Promise<void> {
  const ledger = config();
  const status = await withClient(ledger, STATEMENT_TIMEOUT_MS, (client) => readStatus(client, ledger.url));
  if (json) {
    io.stdout.write(`${JSON.stringify(status)}\n`);
    return;
  }
  const lines = [`ledger      ${status.ledger}`, `schema      ${describeSchema(status.schema)}`];
  if (status.events !== undefined) {
    lines.push(
      `events      ${status.events.total} (${status.events.open} open, ${status.events.settled} settled)`,
    );
    for (const [s, n] of Object.entries(status.events.byState)) lines.push(`  ${s.padEnd(12)}${n}`);
    lines.push(`parked      ${status.parked ?? 0}`, `leases held ${status.leasesHeld ?? 0}`);
  }
  io.stdout.write(`${lines.join("\n")}\n`);
}

export const ledgerCommand: Subcommand = {
  summary: "migrate the PostgreSQL ledger's schema, or show its status",
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const [action, ...rest] = args;
    if (action === "--help" || action === "-h" || rest.includes("--help") || rest.includes("-h")) {
      io.stdout.write(HELP);
      return EXIT_OK;
    }
    try {
      const unknown = rest.filter((a) => !(action === "status" && a === "--json"));
      if (unknown.length > 0) throw new Stop(EXIT_USAGE, `unexpected argument ${unknown[0]}`, true);
      if (action === "migrate") await runMigrate(io);
      else if (action === "status") await runStatus(io, rest.includes("--json"));
      else {
        const problem = action === undefined ? "say migrate or status" : `unknown action "${action}"`;
        throw new Stop(EXIT_USAGE, problem, true);
      }
      return EXIT_OK;
    } catch (error) {
      if (!(error instanceof Stop)) throw error;
      io.stderr.write(`refund-relay ledger: ${error.message}\n${error.showHelp ? `\n${HELP}` : ""}`);
      return error.code;
    }
  },
};
