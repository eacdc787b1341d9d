// The ledger of one run: a fresh SQLite file (one file shared by every instance), or a fresh PostgreSQL
// database rr_bench_<random> on DATABASE_URL's server, dropped afterwards. The relay creates its schema
// at start-up (LEDGER_MIGRATE=auto), instances starting together migrating once.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { LedgerKind } from "./settings.ts";

export interface RunLedger {
  /** LEDGER_URL for the relay processes. */
  readonly url: string;
  drop(): Promise<void>;
}

export async function createRunLedger(kind: LedgerKind, databaseUrl: string): Promise<RunLedger> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "refund-relay-bench-"));
    return {
      url: `sqlite:${join(dir, "ledger.db")}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `rr_bench_${randomBytes(4).toString("hex")}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE: a killed relay's connections may linger for a moment.
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
