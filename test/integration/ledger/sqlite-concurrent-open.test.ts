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
const script = join(dir, "open.mjs");
// Loads the ledger, says "ready", and opens the file (then closes it) when told "go" on its standard
// input: the parent says it only once every process is ready, so the opens overlap however slowly the
// processes started.
writeFileSync(
  script,
  `import { ThreadedSqliteLedger } from ${JSON.stringify(ledgerModule)};
const [path] = process.argv.slice(2);
process.stdout.write("ready\\n");
process.stdin.once("data", async () => {
  try {
    const ledger = await ThreadedSqliteLedger.open({ path });
    await ledger.close();
    process.stdout.write("opened");
  } catch (error) {
    process.stdout.write(String(error?.message ?? error));
    process.exitCode = 1;
  }
  process.stdin.destroy();
});
`,
);

interface Opener {
  readonly ready: Promise<void>;
  readonly exit: Promise<{ code: number | null; output: string }>;
  go(): void;
}

function opener(path: string): Opener {
  const child = spawn(process.execPath, [script, path], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString();
    if (output.includes("ready\n")) markReady();
  });
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const exit = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      markReady();
      resolve({ code, output: output.replace("ready\n", "") });
    });
  });
  return { ready, exit, go: () => child.stdin.write("go\n") };
}

describe("SQLite ledger opened by several instances at once", () => {
  it("lets four processes open and migrate one new file together, every round", async () => {
    const rounds = 5;
    const failures: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const path = join(dir, `round-${round}.db`);
      const openers = [0, 1, 2, 3].map(() => opener(path));
      await Promise.all(openers.map((o) => o.ready));
      for (const o of openers) o.go();
      const results = await Promise.all(openers.map((o) => o.exit));
      for (const r of results) if (r.code !== 0) failures.push(`round ${round}: ${r.output.trim()}`);
      // The file ends up usable.
      const ledger = await ThreadedSqliteLedger.open({ path });
      const entry = sampleEntry();
      expect((await ledger.begin(entry, new Date())).kind).toBe("new");
      await ledger.close();
    }
    expect(failures).toEqual([]);
  }, 60_000);
});
