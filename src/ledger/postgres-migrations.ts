// Schema migrations of the PostgreSQL ledger: numbered SQL files in migrations/postgres/, read at run
// time, applied in one transaction under an advisory lock so that instances starting together migrate
// once, and recorded in schema_migrations. A schema newer than the files this code ships is refused.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import type { Logger } from "../logger.ts";
import { type ConnectionTarget, connectClient } from "./postgres-pool.ts";
import { LedgerError } from "./types.ts";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface SchemaState {
  /** False when schema_migrations does not exist: nothing of the ledger is there yet. */
  readonly exists: boolean;
  readonly version: number;
  readonly applied: ReadonlyArray<{
    readonly version: number;
    readonly name: string;
    readonly appliedAt: Date;
  }>;
}

export interface MigrationReport {
  readonly from: number;
  readonly to: number;
  readonly applied: ReadonlyArray<{ readonly version: number; readonly name: string }>;
}

/**
 * Advisory lock keys: a fixed class for refund-relay, and the schema, so ledgers in different schemas
 * of one database do not wait on each other.
 */
export const LOCK_CLASS = { migrate: 0x52520001, sweep: 0x52520002 } as const;
export const SCHEMA_LOCK_KEY = "hashtext(coalesce(current_schema(), ''))";

const FILE_PATTERN = /^(\d{3})_([a-z0-9_]+)\.sql$/;
const MIGRATIONS_DIR = new URL("./migrations/postgres/", import.meta.url);

let cached: readonly Migration[] | undefined;

/** The migrations shipped with this code, in order; their numbers must run 1, 2, 3... */
export function loadMigrations(dir: URL = MIGRATIONS_DIR): readonly Migration[] {
  if (dir === MIGRATIONS_DIR && cached !== undefined) return cached;
  const path = fileURLToPath(dir);
  const migrations = readdirSync(path)
    .map((file) => ({ file, match: FILE_PATTERN.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map(({ file, match }) => ({
      version: Number(match[1]),
      name: `${match[1]}_${match[2]}`,
      sql: readFileSync(new URL(file, dir), "utf8"),
    }))
    .sort((a, b) => a.version - b.version);
  for (const [index, m] of migrations.entries()) {
    if (m.version !== index + 1) {
      throw new Error(
        `ledger migrations in ${path} must be numbered 001, 002, ... without gaps (found ${m.name})`,
      );
    }
  }
  if (dir === MIGRATIONS_DIR) cached = migrations;
  return migrations;
}

export function latestVersion(migrations: readonly Migration[] = loadMigrations()): number {
  return migrations.length;
}

/**
 * The schema as recorded in schema_migrations of the session's current schema (where the migrations
 * create their tables), not one found further along the search path.
 */
export async function readSchemaState(client: pg.ClientBase): Promise<SchemaState> {
  const found = await client.query<{ exists: boolean; schema: string | null }>(
    `SELECT to_regclass(format('%I.schema_migrations', current_schema())) IS NOT NULL AS exists,
            current_schema() AS schema`,
  );
  if (found.rows[0]?.exists !== true) return { exists: false, version: 0, applied: [] };
  let rows: pg.QueryResult<{ version: number; name: string; applied_at: Date }>;
  try {
    rows = await client.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
  } catch (error) {
    if ((error as { code?: string }).code !== "42703") throw error;
    throw new LedgerError(
      `the schema_migrations table in schema ${found.rows[0]?.schema} is not refund-relay's; give the ledger a schema of its own (LEDGER_URL ...?options=-c search_path=<schema>)`,
    );
  }
  const applied = rows.rows.map((r) => ({ version: r.version, name: r.name, appliedAt: r.applied_at }));
  return { exists: true, version: applied.at(-1)?.version ?? 0, applied };
}

function refuseNewer(version: number, known: number): void {
  if (version > known) {
    throw new LedgerError(
      `the ledger's schema is version ${version}, newer than this refund-relay knows (${known}); run a newer refund-relay or restore a matching ledger`,
    );
  }
}

/** For LEDGER_MIGRATE=off: the schema must already be the one this code knows. */
export async function requireCurrentSchema(
  client: pg.ClientBase,
  migrations: readonly Migration[] = loadMigrations(),
): Promise<SchemaState> {
  const state = await readSchemaState(client);
  const known = latestVersion(migrations);
  refuseNewer(state.version, known);
  if (!state.exists) {
    throw new LedgerError(
      "the ledger has no refund-relay schema and LEDGER_MIGRATE=off: run `refund-relay ledger migrate` first",
    );
  }
  if (state.version < known) {
    throw new LedgerError(
      `the ledger's schema is version ${state.version}, older than this refund-relay needs (${known}), and LEDGER_MIGRATE=off: run \`refund-relay ledger migrate\` first`,
    );
  }
  return state;
}

/**
 * Brings the schema up to date. A current schema is only read (no lock, no DDL: an account without
 * CREATE rights can open a migrated ledger). Otherwise every missing migration is applied in one
 * transaction under a transaction-level advisory lock; an instance that waited for the lock finds the
 * work done and applies nothing.
 */
export async function migrate(
  client: pg.ClientBase,
  migrations: readonly Migration[] = loadMigrations(),
): Promise<MigrationReport> {
  const known = latestVersion(migrations);
  const before = await readSchemaState(client);
  refuseNewer(before.version, known);
  if (before.version === known) return { from: known, to: known, applied: [] };
  await client.query("BEGIN");
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${LOCK_CLASS.migrate}, ${SCHEMA_LOCK_KEY})`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    integer     PRIMARY KEY,
         name       text        NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const current = await client.query<{ version: number }>(
      "SELECT COALESCE(MAX(version), 0)::integer AS version FROM schema_migrations",
    );
    const from = current.rows[0]?.version ?? 0;
    refuseNewer(from, known);
    const applied: Array<{ version: number; name: string }> = [];
    for (const m of migrations) {
      if (m.version <= from) continue;
      try {
        await client.query(m.sql);
      } catch (error) {
        throw new Error(`ledger migration ${m.name} failed: ${(error as Error).message}`, { cause: error });
      }
      await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
        m.version,
        m.name,
      ]);
      applied.push({ version: m.version, name: m.name });
    }
    await client.query("COMMIT");
    return { from, to: known, applied };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/**
 * What opening a ledger does first, on a connection of its own: applies missing migrations (mode
 * "auto") or only checks that none is missing (mode "off"). Errors name the ledger without password.
 */
export async function prepareSchema(
  target: ConnectionTarget,
  mode: "auto" | "off",
  logger?: Logger,
): Promise<MigrationReport | undefined> {
  const client = await connectClient(target, (error) =>
    logger?.warn({ err: error, ledger: target.display }, "the ledger connection failed"),
  );
  try {
    if (mode === "off") {
      await requireCurrentSchema(client);
      return undefined;
    }
    const report = await migrate(client);
    if (report.applied.length > 0) {
      const applied = report.applied.map((m) => m.name);
      logger?.info(
        { ledger: target.display, from: report.from, to: report.to, applied },
        "ledger schema migrated",
      );
    }
    return report;
  } catch (error) {
    if (error instanceof LedgerError) throw new LedgerError(`${error.message} (${target.display})`);
    throw new Error(`cannot prepare the ledger at ${target.display}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}
