// Connections of the PostgreSQL ledger: the pg connection settings derived from LEDGER_URL and the
// ledger settings, the pool the ledger's batches run on, and single connections for migrations and
// the command line. Every connection error is handled here, so a server that goes away never crashes
// the process: queries in flight fail (the relay retries them) and the pool connects again by itself.
import type { ConnectionOptions } from "node:tls";
import pg from "pg";
import {
  type PostgresLedgerSettings,
  type PostgresUrl,
  parsePostgresUrl,
  redactLedgerUrl,
  resolveSslMode,
} from "./postgres-settings.ts";

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** The client gives up on an answer this long after the server's own statement timeout would fire. */
const QUERY_TIMEOUT_MARGIN_MS = 2_000;

export interface ConnectionTarget {
  readonly config: pg.ClientConfig;
  /** The URL without its password, for messages. */
  readonly display: string;
}

export type ConnectionErrorHandler = (error: Error) => void;

function tlsOptions(url: PostgresUrl, settings: PostgresLedgerSettings): false | ConnectionOptions {
  const mode = resolveSslMode(url, settings.ssl);
  const ca = settings.sslCa === undefined ? {} : { ca: settings.sslCa };
  switch (mode) {
    case "disable":
      return false;
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
      // The chain is checked; the name on the certificate is not (libpq's verify-ca).
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca };
    case "verify-full":
      return { rejectUnauthorized: true, ...ca };
  }
}

/** Connection settings for a postgres:// URL; throws LedgerUrlError (never quoting a password). */
export function connectionTarget(url: string, settings: PostgresLedgerSettings = {}): ConnectionTarget {
  const parsed = parsePostgresUrl(url);
  const secret = settings.password;
  const inUrl = parsed.password;
  return {
    display: redactLedgerUrl(url),
    config: {
      host: parsed.host,
      port: parsed.port,
      ...(parsed.user === undefined ? {} : { user: parsed.user }),
      ...(parsed.database === undefined ? {} : { database: parsed.database }),
      // A function, so the password is not a property of the pool's options for anything to print.
      ...(secret !== undefined
        ? { password: () => secret.reveal() }
        : inUrl !== undefined
          ? { password: () => inUrl }
          : {}),
      ssl: tlsOptions(parsed, settings),
      application_name: parsed.applicationName ?? "refund-relay",
      ...(parsed.options === undefined ? {} : { options: parsed.options }),
      connectionTimeoutMillis: settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      keepAlive: true,
    },
  };
}

/** The pool the ledger's batches run on; `onError` hears of connections that broke while idle. */
export function createPool(
  target: ConnectionTarget,
  settings: PostgresLedgerSettings,
  onError: ConnectionErrorHandler,
): pg.Pool {
  const statementTimeoutMs = settings.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    ...target.config,
    max: settings.poolSize ?? DEFAULT_POOL_SIZE,
    statement_timeout: statementTimeoutMs,
    // A server that stopped answering without closing the connection (a network partition) is
    // noticed here; the statement timeout alone cannot fire on a server that is unreachable.
    query_timeout: statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
    // Batches run back to back; keep connections rather than reconnect after every quiet second.
    idleTimeoutMillis: 60_000,
  });
  // pg-pool removes the broken client itself; without a listener the 'error' event would throw.
  pool.on("error", onError);
  return pool;
}

/**
 * A single connection for work that is not a batch (migrations, the command line): no statement
 * timeout unless asked, since a migration may take minutes on a large table.
 */
export async function connectClient(
  target: ConnectionTarget,
  onError: ConnectionErrorHandler,
  statementTimeoutMs?: number,
): Promise<pg.Client> {
  const client = new pg.Client({
    ...target.config,
    ...(statementTimeoutMs === undefined ? {} : { statement_timeout: statementTimeoutMs }),
  });
  client.on("error", onError);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectionError(target, error);
  }
  return client;
}

/** An error about reaching the ledger, naming it without its password. */
export function connectionError(target: ConnectionTarget, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  return new Error(
    `cannot reach the ledger at ${target.display}: ${message}${typeof code === "string" ? ` (${code})` : ""}`,
    { cause: error },
  );
}
