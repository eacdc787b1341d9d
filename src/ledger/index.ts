import { resolve } from "node:path";
import { SqliteLedger } from "./sqlite.ts";
import type { Ledger } from "./types.ts";

export { SqliteLedger } from "./sqlite.ts";
export * from "./types.ts";

export const DEFAULT_LEDGER_URL = "sqlite:./data/refund-relay.db";

export interface OpenLedgerOptions {
  readonly synchronous?: "full" | "normal";
}

/**
 * Opens the ledger named by a URL: `sqlite:<path>` (relative to the working directory) or
 * `sqlite::memory:`. Other schemes are rejected with the list of supported ones.
 */
export async function openLedger(url: string, options: OpenLedgerOptions = {}): Promise<Ledger> {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\//, "");
    if (path === "")
      throw new Error("LEDGER_URL: sqlite: needs a file path, e.g. sqlite:./data/refund-relay.db");
    return new SqliteLedger({
      path: path === ":memory:" ? path : resolve(path),
      ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    });
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] ?? "(none)";
  throw new Error(`LEDGER_URL: unsupported scheme "${scheme}"; supported: sqlite:<path>`);
}
