import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openLedger, SqliteLedger } from "../../../src/ledger/index.ts";
import { describeLedgerContract } from "../../support/ledger-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "refund-relay-ledger-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeLedgerContract("sqlite in memory", { open: async () => new SqliteLedger({ path: ":memory:" }) });

let fileCount = 0;
describeLedgerContract("sqlite file", {
  open: async () => new SqliteLedger({ path: join(dir, `ledger-${++fileCount}.db`) }),
  reopen: async () => {
    // The suite closes the first instance in afterEach; a second handle on the same file sees its data.
    return new SqliteLedger({ path: join(dir, `ledger-${fileCount}.db`) });
  },
});

describe("openLedger", () => {
  it("opens an SQLite file named by a sqlite: URL, creating its directory", async () => {
    const ledger = await openLedger(`sqlite:${join(dir, "nested", "a.db")}`);
    await ledger.close();
  });

  it("rejects an unsupported scheme, naming the supported ones", async () => {
    await expect(openLedger("mysql://x")).rejects.toThrow(/unsupported scheme "mysql".*sqlite:/);
  });

  it("rejects a sqlite: URL without a path", async () => {
    await expect(openLedger("sqlite:")).rejects.toThrow(/needs a file path/);
  });
});
