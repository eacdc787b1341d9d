// Where and how the PostgreSQL ledger connects: the LEDGER_URL parsed without pg's own connection
// string rules (which read the environment and treat sslmode=require as verify-full), the TLS mode
// that follows from it, and the URL as it may be shown (never with its password).
import { isIP } from "node:net";

export const POSTGRES_SCHEMES = ["postgres:", "postgresql:"] as const;

/** disable: plain TCP. require: encrypted, server not verified. verify-ca: the certificate chains to a
 * trusted CA. verify-full: that, and the certificate names the host. */
export const SSL_MODES = ["disable", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** URL query parameters understood (libpq's names); any other is refused rather than ignored. */
const URL_PARAMETERS = ["sslmode", "application_name", "options"] as const;

export interface PostgresUrl {
  /** A host name, an IP address, or a Unix socket directory (a path starting with "/"). */
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly database: string | undefined;
  readonly sslmode: SslMode | undefined;
  readonly applicationName: string | undefined;
  /** Server options at connection start, e.g. `-c search_path=relay`. */
  readonly options: string | undefined;
}

/** Something that yields a secret only when asked (the configuration's Secret is one). */
export interface SecretSource {
  reveal(): string;
}

/** Settings of a PostgreSQL ledger beyond its URL; everything has a default. */
export interface PostgresLedgerSettings {
  /** Overrides a password in the URL. */
  readonly password?: SecretSource | undefined;
  /** Default: the URL's sslmode, else disable for a loopback host or socket, else verify-full. */
  readonly ssl?: SslMode | undefined;
  /** PEM certificates to trust instead of the system's. */
  readonly sslCa?: string | undefined;
  readonly poolSize?: number | undefined;
  readonly statementTimeoutMs?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  /** auto: apply missing schema migrations when opened; off: refuse to open an outdated schema. */
  readonly migrate?: "auto" | "off" | undefined;
  /** Settled events older than this many days are deleted by the periodic sweep; 0 keeps them. */
  readonly retentionDays?: number | undefined;
  /** How often the retention sweep runs; 0 or absent: not periodically (sweep() can still be called). */
  readonly sweepIntervalMs?: number | undefined;
}

export class LedgerUrlError extends Error {
  override readonly name = "LedgerUrlError";
}

export function isPostgresUrl(url: string): boolean {
  return POSTGRES_SCHEMES.some((scheme) => url.toLowerCase().startsWith(`${scheme}//`));
}

/**
 * Parses `postgres://user:password@host:port/database?sslmode=...`. Errors never quote the URL's
 * password: they name the part that is wrong.
 */
export function parsePostgresUrl(url: string): PostgresUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LedgerUrlError("not a valid URL (postgres://user@host:port/database)");
  }
  if (!(POSTGRES_SCHEMES as readonly string[]).includes(parsed.protocol)) {
    throw new LedgerUrlError(`the scheme must be postgres: or postgresql:, not ${parsed.protocol}`);
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new LedgerUrlError(`the ${what} is not correctly percent-encoded`);
    }
  };
  const rawHost = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const host = decode(rawHost, "host");
  if (host === "") throw new LedgerUrlError("a host is required (postgres://user@host:port/database)");
  const port = parsed.port === "" ? 5432 : Number(parsed.port);
  const path = parsed.pathname.replace(/^\//, "");
  if (path.includes("/")) throw new LedgerUrlError("the path must be just the database name");
  const unknown = [...new Set(parsed.searchParams.keys())].filter(
    (k) => !(URL_PARAMETERS as readonly string[]).includes(k),
  );
  if (unknown.length > 0) {
    throw new LedgerUrlError(
      `unsupported parameter${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (supported: ${URL_PARAMETERS.join(", ")}; the password goes before the @ or in LEDGER_PASSWORD_FILE)`,
    );
  }
  const sslmode = parsed.searchParams.get("sslmode") ?? undefined;
  if (sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw new LedgerUrlError(`sslmode must be one of ${SSL_MODES.join(", ")}, not "${sslmode}"`);
  }
  return {
    host,
    port,
    user: parsed.username === "" ? undefined : decode(parsed.username, "user name"),
    password: parsed.password === "" ? undefined : decode(parsed.password, "password"),
    database: path === "" ? undefined : decode(path, "database name"),
    sslmode: sslmode as SslMode | undefined,
    applicationName: parsed.searchParams.get("application_name") ?? undefined,
    options: parsed.searchParams.get("options") ?? undefined,
  };
}

/**
 * The URL without its password, for logs and messages. Anything that is not a parseable URL with a
 * password is returned with everything between "//" and "@" replaced, so a malformed URL cannot leak
 * one either.
 */
export function redactLedgerUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/?#]*@/, "//***@");
  }
}

/** A host whose traffic never leaves the machine: TLS would protect nothing there. */
export function isLocalHost(host: string): boolean {
  if (host.startsWith("/")) return true;
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * The TLS mode in force: the setting, else the URL's sslmode, else disable for a loopback host or a
 * Unix socket and verify-full for anything else, so a remote ledger is never reached unverified by
 * default.
 */
export function resolveSslMode(url: PostgresUrl, setting: SslMode | undefined): SslMode {
  return setting ?? url.sslmode ?? (isLocalHost(url.host) ? "disable" : "verify-full");
}
