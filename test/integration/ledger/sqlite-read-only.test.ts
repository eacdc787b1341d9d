// A relay (re)started while its SQLite ledger's disk is read-only, and the disk then coming back: the
// ledger must write again by itself. SQLite opens a file it cannot write read-only and that connection
// never writes again, so the ledger has to open a new one. The disk is made read-only with
// `chattr +i` (immutable file and folder), which stops root too; the test needs root and a file
// system with that attribute (ext4, xfs, btrfs), as CI has.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ThreadedSqliteLedger } from "../../../src/ledger/index.ts";
import { sampleEntry } from "../../support/ledger-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "refund-relay-readonly-"));
const immutable = (on: boolean) => {
  const flag = on ? "+i" : "-i";
  for (const name of readdirSync(dir)) execFileSync("chattr", [flag, join(dir, name)]);
  execFileSync("chattr", [flag, dir]);
};
afterAll(() => {
  immutable(false);
  rmSync(dir, { recursive: true, force: true });
});

describe("SQLite ledger on a disk that was read-only", () => {
  it("fails writes while the disk is read-only, then writes again once it is not, without a restart", async () => {
    const path = join(dir, "ledger.db");
    const first = await ThreadedSqliteLedger.open({ path });
    const before = sampleEntry();
    expect((await first.begin(before, new Date())).kind).toBe("new");
    await first.close();
    // A process killed while it holds the file leaves the write-ahead log and shared-memory files.
    const script = `const { DatabaseSync } = require("node:sqlite");
      const db = new DatabaseSync(${JSON.stringify(path)});
      db.exec("PRAGMA journal_mode = WAL; SELECT count(*) FROM schema_migrations");
      process.kill(process.pid, "SIGKILL");`;
    expect(spawnSync(process.execPath, ["-e", script]).signal).toBe("SIGKILL");
    expect(readdirSync(dir).sort()).toEqual(["ledger.db", "ledger.db-shm", "ledger.db-wal"]);

    immutable(true);
    const ledger = await ThreadedSqliteLedger.open({ path });
    const entry = sampleEntry();
    await expect(ledger.begin(entry, new Date())).rejects.toThrow(/readonly|unable to open|disk I\/O/);

    immutable(false);
    let result: string | undefined;
    const deadline = Date.now() + 10_000;
    while (result === undefined && Date.now() < deadline) {
      try {
        result = (await ledger.begin(entry, new Date())).kind;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    expect(result, "the ledger never wrote again after the disk came back").toBe("new");
    expect((await ledger.get(entry))?.state).toBe("received");
    expect((await ledger.get(before))?.state).toBe("received");
    await ledger.close();
  });
});
