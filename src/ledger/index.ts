import { resolve } from "node:path";
import type { Logger } from "../logger.ts";
import { PostgresLedger } from "./postgres.ts";
import { isPostgresUrl, type PostgresLedgerSettings } from "./postgres-settings.ts";
import { SqliteLedger } from "./sqlite.ts";
import { ThreadedSqliteLedger } from "./sqlite-threaded.ts";
import type { Ledger, LedgerLookup } from "./types.ts";

export { PostgresLedger, type PostgresLedgerOptions } from "./postgres.ts";
export type { SweepResult } from "./postgres-retention.ts";
export {
  isPostgresUrl,
  type PostgresLedgerSettings,
  parsePostgresUrl,
  redactLedgerUrl,
  SSL_MODES,
  type SslMode,
} from "./postgres-settings.ts";
export { SqliteLedger, type SqliteLedgerOptions, StoreLedger } from "./sqlite.ts";
export { ThreadedSqliteLedger } from "./sqlite-threaded.ts";
export * from "./types.ts";

export const DEFAULT_LEDGER_URL = "sqlite:./data/refund-relay.db";

export interface OpenLedgerOptions {
  readonly synchronous?: "full" | "normal";
  /** Run the SQLite connection on a worker thread (the default) or on the calling thread. */
  readonly thread?: "worker" | "caller";
  /**
   * Settings of a postgres:// ledger: password, TLS, pool, timeouts, migrations at start-up and the
   * periodic retention sweep (with `retentionDays` and `sweepIntervalMs`). Without them the URL
   * alone decides, migrations run, and nothing is swept.
   */
  readonly postgres?: PostgresLedgerSettings | undefined;
  /** Hears of a PostgreSQL ledger's lost idle connections, migrations and sweeps. */
  readonly logger?: Logger | undefined;
}

/**
 * Opens the ledger named by a URL: `sqlite:<path>` (relative to the working directory),
 * `sqlite::memory:`, or `postgres://` / `postgresql://user@host:port/database`. Other schemes are
 * rejected with the list of supported ones.
 */
/** The file path of a `sqlite:` ledger URL ("" when it names none), as openLedger reads it. */
export function sqlitePath(url: string): string {
  return url.slice("sqlite:".length).replace(/^\/\//, "");
}

export async function openLedger(
  url: string,
  options: OpenLedgerOptions = {},
): Promise<Ledger & LedgerLookup> {
  if (url.startsWith("sqlite:")) {
    const path = sqlitePath(url);
    if (path === "")
      throw new Error("LEDGER_URL: sqlite: needs a file path, e.g. sqlite:./data/refund-relay.db");
    const settings = {
      path: path === ":memory:" ? path : resolve(path),
      ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    };
    return options.thread === "caller" ? new SqliteLedger(settings) : ThreadedSqliteLedger.open(settings);
  }
  if (isPostgresUrl(url)) {
    return PostgresLedger.open({ ...options.postgres, url, logger: options.logger });
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] ?? "(none)";
  throw new Error(
    `LEDGER_URL: unsupported scheme "${scheme}"; supported: sqlite:<path>, postgres://user@host:port/database (or postgresql://)`,
  );
}
