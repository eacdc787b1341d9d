// Several relays started at the same moment on one new SQLite ledger file (a fleet sharing a volume,
// all replicas rolled out together). Each must open the file, switch it to WAL and find it migrated
// once, waiting for the others' write lock instead of failing with "database is locked" or applying a
// migration the others already applied.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ThreadedSqliteLedger } from "../../../src/ledger/index.ts";
import { sampleEntry } from "../../support/ledger-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "refund-relay-concurrent-open-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ledgerModule = pathToFileURL(join(import.meta.dirname, "../../../src/ledger/index.ts")).href;
const opener = join(dir, "open.mjs");
// Waits for a shared start time, so the processes reach the file together, then opens and closes it.
writeFileSync(
  opener,
  `import { ThreadedSqliteLedger } from ${JSON.stringify(ledgerModule)};
const [path, startAt] = process.argv.slice(2);
while (Date.now() < Number(startAt)) {}
try {
  const ledger = await ThreadedSqliteLedger.open({ path });
  await ledger.close();
  process.stdout.write("opened");
} catch (error) {
  process.stdout.write(String(error?.message ?? error));
  process.exitCode = 1;
}
`,
);

function openAt(path: string, startAt: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opener, path, String(startAt)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

describe("SQLite ledger opened by several instances at once", () => {
  it("lets four processes open and migrate one new file together, every round", async () => {
    const rounds = 5;
    const failures: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const path = join(dir, `round-${round}.db`);
      // Node's start-up takes a few hundred milliseconds; all four are waiting well before this.
      const startAt = Date.now() + 1_500;
      const results = await Promise.all([0, 1, 2, 3].map(() => openAt(path, startAt)));
      for (const r of results) if (r.code !== 0) failures.push(`round ${round}: ${r.output.trim()}`);
      // The file ends up usable, with every migration recorded once.
      const ledger = await ThreadedSqliteLedger.open({ path });
      const entry = sampleEntry();
      expect((await ledger.begin(entry, new Date())).kind).toBe("new");
      await ledger.close();
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
