import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { openLedger, SqliteLedger, ThreadedSqliteLedger } from "../../../src/ledger/index.ts";
import { LedgerUnavailableError } from "../../../src/ledger/sqlite-threaded.ts";
import { describeLedgerContract, sampleEntry } from "../../support/ledger-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "refund-relay-ledger-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
const nextFile = () => join(dir, `ledger-${++fileCount}.db`);
const currentFile = () => join(dir, `ledger-${fileCount}.db`);

describeLedgerContract("sqlite in memory, calling thread", {
  open: async () => new SqliteLedger({ path: ":memory:" }),
});

describeLedgerContract("sqlite file, calling thread", {
  open: async () => new SqliteLedger({ path: nextFile() }),
  // A second connection on the same file sees what the first committed.
  reopen: async () => new SqliteLedger({ path: currentFile() }),
});

describeLedgerContract("sqlite file, worker thread", {
  open: () => ThreadedSqliteLedger.open({ path: nextFile() }),
  reopen: () => ThreadedSqliteLedger.open({ path: currentFile() }),
});

describe("openLedger", () => {
  it("opens an SQLite file named by a sqlite: URL on a worker thread, creating its directory", async () => {
    const ledger = await openLedger(`sqlite:${join(dir, "nested", "a.db")}`);
    expect(ledger).toBeInstanceOf(ThreadedSqliteLedger);
    const entry = sampleEntry();
    expect((await ledger.begin(entry, new Date())).kind).toBe("new");
    await ledger.close();
    const again = await openLedger(`sqlite:${join(dir, "nested", "a.db")}`, { thread: "caller" });
    expect(again).toBeInstanceOf(SqliteLedger);
    expect((await again.get(entry))?.state).toBe("received");
    await again.close();
  });

  it("rejects an unsupported scheme, naming the supported ones", async () => {
    await expect(openLedger("mysql://x")).rejects.toThrow(/unsupported scheme "mysql".*sqlite:/);
  });

  it("rejects a sqlite: URL without a path", async () => {
    await expect(openLedger("sqlite:")).rejects.toThrow(/needs a file path/);
  });

  it("fails clearly when the file cannot be opened", async () => {
    const notADirectory = join(dir, "plain-file");
    writeFileSync(notADirectory, "");
    await expect(ThreadedSqliteLedger.open({ path: join(notADirectory, "ledger.db") })).rejects.toThrow(
      /cannot open the ledger: E[A-Z]+/,
    );
  });

  it("fails the operations a dead worker held as an outage, then starts a new worker on the same file", async () => {
    const ledger = await ThreadedSqliteLedger.open({ path: nextFile() });
    const entry = sampleEntry();
    await ledger.begin(entry, new Date());
    const worker = ledger.worker;
    const held = ledger.get(entry);
    await worker?.terminate();
    await expect(held).rejects.toBeInstanceOf(LedgerUnavailableError);
    // The next operation starts a new worker; the committed row is still there.
    expect((await ledger.get(entry))?.state).toBe("received");
    expect(ledger.worker).not.toBe(worker);
    await ledger.close();
  });

  it("refuses a ledger whose schema is newer than this code knows", async () => {
    const file = nextFile();
    const first = new SqliteLedger({ path: file });
    await first.close();
    const db = new DatabaseSync(file);
    db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(999, Date.now());
    db.close();
    expect(() => new SqliteLedger({ path: file })).toThrow(
      /schema is version 999, newer than this refund-relay knows/,
    );
  });

  it("refuses work after it is closed", async () => {
    const ledger = await ThreadedSqliteLedger.open({ path: nextFile() });
    await ledger.close();
    await expect(ledger.get(sampleEntry())).rejects.toThrow(/closed/);
  });
});
