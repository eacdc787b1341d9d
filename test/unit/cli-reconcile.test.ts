import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { idempotencyKeyFor, outcomeEventId } from "../../schemas/index.ts";
import { main } from "../../src/cli/main.ts";
import { reconcileCommand } from "../../src/cli/reconcile.ts";
import { formatMoney, manualOutcome } from "../../src/cli/reconcile-outcome.ts";
import { type LedgerEntry, type ParkCode, SqliteLedger } from "../../src/ledger/index.ts";
import {
  createSimControl,
  type DojoSimulator,
  type SimControl,
  startDojoSimulator,
} from "../../src/sim/index.ts";
import { returnApproved } from "../support/events.ts";

const KEY = "sk_sandbox_reconcileunit";
const T0 = new Date("2026-11-26T10:00:00Z");

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr }, text };
}

/** A command line without quoting: words split on spaces. */
const words = (line: string) => line.split(" ");

async function run(...args: string[]) {
  const { io, text } = capture();
  const code = await reconcileCommand.run(args, io);
  return { code, ...text };
}

let dir: string;
let ledgerPath: string;
let sim: DojoSimulator;
let dojo: SimControl;

/** Records an event the way the relay does, then parks it (or leaves it open with park: null). */
async function seed(options: {
  paymentIntentId: string;
  source?: string;
  id?: string;
  submitted?: boolean;
  park?: ParkCode | null;
  merchantId?: string;
}): Promise<LedgerEntry> {
  const event = returnApproved({
    paymentIntentId: options.paymentIntentId,
    amount: 4598,
    metadata: { channel: "web" },
    ...(options.id === undefined ? {} : { id: options.id }),
    ...(options.source === undefined ? {} : { source: options.source }),
    ...(options.merchantId === undefined ? {} : { merchantId: options.merchantId }),
  });
  const ref = { source: event.source, eventId: event.id };
  const ledger = new SqliteLedger({ path: ledgerPath, synchronous: "normal" });
  try {
    await ledger.begin(
      {
        ...ref,
        idempotencyKey: idempotencyKeyFor(event),
        requestHash: `hash-${event.id}`,
        paymentIntentId: event.data.paymentIntentId,
        merchantId: event.data.merchantId ?? null,
        amount: event.data.amount.value,
        currencyCode: event.data.amount.currencyCode,
        event: {
          specversion: event.specversion,
          id: event.id,
          source: event.source,
          type: event.type,
          data: event.data,
        },
      },
      T0,
    );
    if (options.submitted !== false) {
      await ledger.markSubmitting(ref, "refund", { state: "received", attempts: 0 }, T0);
      await ledger.markUnknown(ref, "timeout: no answer", { state: "submitting", attempts: 1 }, T0);
    }
    const park = options.park === undefined ? "needs_reconciliation" : options.park;
    if (park !== null) await ledger.markParked(ref, park, "Dojo's answer stayed unknown\nafter retries", T0);
    return (await ledger.get(ref))!;
  } finally {
    await ledger.close();
  }
}

async function readRow(ref: { source: string; eventId: string }) {
  const ledger = new SqliteLedger({ path: ledgerPath });
  try {
    return { entry: (await ledger.get(ref))!, audit: await ledger.audit(ref) };
  } finally {
    await ledger.close();
  }
}

beforeAll(async () => {
  sim = await startDojoSimulator({ apiKeys: [KEY] });
  dojo = createSimControl(sim.url);
});
afterAll(async () => {
  await sim?.close();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "reconcile-unit-"));
  ledgerPath = join(dir, "ledger.db");
  vi.stubEnv("LEDGER_URL", `sqlite:${ledgerPath}`);
  vi.stubEnv("DOJO_BASE_URL", sim.url);
  vi.stubEnv("DOJO_API_KEY", KEY);
  vi.stubEnv("KAFKA_BROKERS", "");
  vi.stubEnv("EVENT_SOURCE", "urn:refund-relay:test");
  vi.stubEnv("USER", "tester");
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

describe("refund-relay reconcile: command line", () => {
  it("is registered in the top-level command and its usage", async () => {
    const { io, text } = capture();
    expect(await main(["--help"], io)).toBe(0);
    expect(text.out).toContain("reconcile");
    const help = capture();
    expect(await main(["reconcile", "--help"], help.io)).toBe(0);
    expect(help.text.out).toContain("usage: refund-relay reconcile <list|show|settle|publish>");
  });

  it("exits 2 with the usage without an action, and on an unknown one", async () => {
    const none = await run();
    expect(none.code).toBe(2);
    expect(none.err).toContain("usage: refund-relay reconcile");
    for (const name of ["fix-everything", "constructor"]) {
      const unknown = await run(name);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toContain(`unknown command "${name}"`);
    }
  });

  it.each([
    ["list", ["LEDGER_URL", "DOJO_BASE_URL", "DOJO_API_KEY", "--limit"]],
    ["show", ["LEDGER_URL", "DOJO_BASE_URL", "--source"]],
    [
      "settle",
      ["LEDGER_URL", "KAFKA_BROKERS", "KAFKA_SUCCEEDED_TOPIC", "KAFKA_FAILED_TOPIC", "USER", "dojo_rejected"],
    ],
    ["publish", ["LEDGER_URL", "KAFKA_BROKERS"]],
  ])("%s --help names its options and the variables it reads, exit 0", async (action, words) => {
    const result = await run(action, "--help");
    expect(result.code).toBe(0);
    for (const word of words) expect(result.out).toContain(word);
    expect(result.out).toContain("exit status: 0 ok, 1 failure");
  });

  it.each([
    ["list --limit 0", "--limit needs an integer"],
    ["list --limit", "--limit needs a value"],
    ["list extra", 'unexpected argument "extra"'],
    ["list --jsn", 'unknown option "--jsn"'],
    ["show", "give the event id"],
    ["show a b", 'unexpected argument "b"'],
    ["show a --source=", "--source must not be empty"],
    ["settle e1 --as succeeded --refund-id rf_1", "give --reason"],
    ["settle e1 --reason x", "give --as succeeded or --as failed"],
    ["settle e1 --as maybe --reason x", '--as must be succeeded or failed, not "maybe"'],
    ["settle e1 --as succeeded --reason x", "--as succeeded needs --refund-id"],
    ["settle e1 --as succeeded --refund-id=rf\u00e91 --reason x", "--refund-id must be"],
    [
      "settle e1 --as succeeded --refund-id rf_1 --code dojo_rejected --reason x",
      "--code goes with --as failed",
    ],
    ["settle e1 --as failed --reason x", "--as failed needs --code"],
    ["settle e1 --as failed --code nope --reason x", '--code "nope" is not a failure code'],
    [
      "settle e1 --as failed --code dojo_rejected --refund-id rf_1 --reason x",
      "--refund-id goes with --as succeeded",
    ],
    ["settle e1 --as failed --as failed", "--as given twice"],
    ["settle e1 --dry-run=yes", "--dry-run takes no value"],
    ["publish e1", "give --source"],
  ])("rejects `%s` with exit 2 and says why", async (line, message) => {
    const result = await run(...words(line));
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
    expect(result.err).toContain("usage: refund-relay reconcile");
    expect(result.out).toBe("");
  });

  it("exits 2 on a configuration error without printing secrets", async () => {
    vi.stubEnv("DOJO_API_KEY", "sk_sandbox_verysecretvalue");
    vi.stubEnv("DOJO_TIMEOUT_MS", "soon");
    const result = await run("list");
    expect(result.code).toBe(2);
    expect(result.err).toContain("DOJO_TIMEOUT_MS");
    expect(result.err).not.toContain("verysecretvalue");
  });

  it("exits 2 when LEDGER_URL names no ledger, instead of creating an empty one", async () => {
    vi.stubEnv("LEDGER_URL", `sqlite:${join(dir, "missing", "ledger.db")}`);
    const result = await run("list");
    expect(result.code).toBe(2);
    expect(result.err).toContain("there is no ledger at");
  });

  it("requires KAFKA_BROKERS only where it publishes", async () => {
    await seed({ paymentIntentId: "pi_sandbox_nokafka" });
    expect((await run("list")).code).toBe(0);
    const result = await run(
      ...words("settle whatever --source urn:x --as failed --code dojo_rejected --reason r"),
    );
    expect(result.code).toBe(2);
    expect(result.err).toContain("KAFKA_BROKERS");
  });
});

describe("refund-relay reconcile list and show", () => {
  it("lists parked events with a fresh Dojo read, as a table and as JSON lines", async () => {
    const captured = await dojo.createIntent({ amount: 4598, currencyCode: "GBP", status: "Captured" });
    const a = await seed({ paymentIntentId: captured, park: "needs_reconciliation" });
    const b = await seed({ paymentIntentId: "pi_sandbox_notatdojo0000", park: "retry_budget_exhausted" });
    await seed({ paymentIntentId: captured, park: null }); // open, not parked: not listed

    const table = await run("list");
    expect(table.code).toBe(0);
    const lines = table.out.split("\n");
    expect(lines[0]).toMatch(
      /^SOURCE\s+EVENT ID\s+PAYMENT INTENT\s+AMOUNT\s+STATE\s+ATTEMPTS\s+PARKED\s+PARKED AT$/,
    );
    expect(table.out).toContain(a.eventId);
    expect(table.out).toContain(b.eventId);
    expect(table.out).toContain("45.98 GBP");
    expect(table.out).toContain("needs_reconciliation");
    expect(table.out).toContain("retry_budget_exhausted");
    expect(table.out).toContain("dojo:   Captured, captured 45.98 GBP, refunded 0.00 GBP");
    expect(table.out).toContain("dojo:   unreadable: not_found");
    expect(table.out).toContain("reason: Dojo's answer stayed unknown after retries");
    expect(table.out.match(/^urn:shop:test /gm)).toHaveLength(2);

    const json = await run("list", "--json");
    expect(json.code).toBe(0);
    const rows = json.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(2);
    const row = rows.find((r) => r.eventId === a.eventId);
    expect(row).toMatchObject({
      source: "urn:shop:test",
      paymentIntentId: captured,
      amount: { value: 4598, currencyCode: "GBP" },
      state: "unknown",
      attempts: 1,
      parked: { code: "needs_reconciliation", at: T0.toISOString() },
      dojo: { status: "Captured", refundedAmount: 0, captured: 4598 },
    });
    expect(rows.find((r) => r.eventId === b.eventId).dojo).toMatchObject({ unreadable: "not_found" });

    const limited = await run("list", "--json", "--limit", "1");
    expect(limited.out.trim().split("\n")).toHaveLength(1);
    expect(limited.err).toContain("raise --limit");
  });

  it("says so when nothing is parked", async () => {
    await seed({ paymentIntentId: "pi_sandbox_open", park: null });
    const result = await run("list");
    expect(result).toMatchObject({ code: 0, out: "no parked events\n" });
    expect((await run("list", "--json")).out).toBe("");
  });

  it("shows one event in full, found by id alone when it is the only parked one with that id", async () => {
    const e = await seed({ paymentIntentId: "pi_sandbox_show0001", merchantId: "m-nokey" });
    const result = await run("show", e.eventId);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^source\s+urn:shop:test$/m);
    expect(result.out).toMatch(/^state\s+unknown \(attempts 1, method refund\)$/m);
    expect(result.out).toMatch(new RegExp(`^idempotency key\\s+${e.idempotencyKey}$`, "m"));
    expect(result.out).toContain("last error       timeout: no answer");
    // The event names a merchant with no key and there is a default key: the default is used.
    expect(result.out).toContain("dojo now         unreadable: not_found");
    expect(result.out).toContain('"returnId"');
    expect(result.out).toContain("outcome:\n  (none yet)");
    expect(result.out).toContain("audit:\n  (none)");

    const json = await run("show", e.eventId, "--source", e.source, "--json");
    expect(json.code).toBe(0);
    const view = JSON.parse(json.out);
    expect(view).toMatchObject({ eventId: e.eventId, event: { id: e.eventId }, outcome: null, audit: [] });
  });

  it("exits 1 for an unknown event, and 2 when an id is parked under several sources", async () => {
    await seed({ paymentIntentId: "pi_sandbox_other" });
    const missing = await run("show", "no-such-event");
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("no parked event has id no-such-event");
    expect((await run("show", "no-such-event", "--source", "urn:x")).code).toBe(1);

    await seed({ paymentIntentId: "pi_sandbox_dup1", id: "dup-1", source: "urn:shop:a" });
    await seed({ paymentIntentId: "pi_sandbox_dup2", id: "dup-1", source: "urn:shop:b" });
    const ambiguous = await run("show", "dup-1");
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.err).toContain("urn:shop:a, urn:shop:b");
    expect(ambiguous.err).toContain("give --source");
    expect((await run("show", "dup-1", "--source", "urn:shop:b")).code).toBe(0);
  });
});

describe("refund-relay reconcile settle", () => {
  it("--dry-run prints the refund.succeeded the relay would publish and changes nothing", async () => {
    const e = await seed({ paymentIntentId: "pi_sandbox_dry0001" });
    const result = await run(
      ...words(`settle ${e.eventId} --as succeeded --refund-id rfnd_manual1 --dry-run`),
      ...["--reason", "found it in the dashboard"],
    );
    expect(result.code).toBe(0);
    expect(result.out).toContain("dry run: would settle");
    expect(result.out).toContain("by tester");
    const outcome = JSON.parse(result.out.slice(result.out.indexOf("\n") + 1));
    expect(outcome).toMatchObject({
      id: outcomeEventId(e.source, e.eventId, "refund.succeeded"),
      type: "refund.succeeded",
      source: "urn:refund-relay:test",
      subject: "pi_sandbox_dry0001",
      data: {
        sourceEvent: { id: e.eventId, source: e.source },
        paymentIntentId: "pi_sandbox_dry0001",
        refundId: "rfnd_manual1",
        amount: { value: 4598, currencyCode: "GBP" },
        idempotencyKey: e.idempotencyKey,
        method: "refund",
        attempts: 1,
        metadata: { channel: "web" },
      },
    });
    const after = await readRow(e);
    expect(after.entry).toMatchObject({ state: "unknown", parked: { code: "needs_reconciliation" } });
    expect(after.audit).toEqual([]);
  });

  it("builds refund.failed with the given code and the reason as its message", async () => {
    const e = await seed({ paymentIntentId: "pi_sandbox_dry0002" });
    const result = await run(
      ...words(
        `settle ${e.eventId} --source ${e.source} --as failed --code payment_not_refundable --dry-run`,
      ),
      ...["--reason", "payment was charged back"],
    );
    expect(result.code).toBe(0);
    const outcome = JSON.parse(result.out.slice(result.out.indexOf("\n") + 1));
    expect(outcome.id).toBe(outcomeEventId(e.source, e.eventId, "refund.failed"));
    expect(outcome.data).toMatchObject({
      code: "payment_not_refundable",
      message: "payment was charged back",
      idempotencyKey: e.idempotencyKey,
      method: "refund",
      attempts: 1,
    });
  });

  it("leaves out key and method of a refund.failed for an event that never reached Dojo", () => {
    const entry = { ...fakeEntry(), attempts: 0, method: null };
    const outcome = manualOutcome(
      entry,
      { as: "failed", code: "unknown_merchant", message: "no key" },
      "urn:r",
      T0,
    );
    expect(outcome.data).not.toHaveProperty("idempotencyKey");
    expect(outcome.data).not.toHaveProperty("method");
    expect(outcome.data).toMatchObject({ attempts: 0, code: "unknown_merchant" });
  });

  it("refuses refund.succeeded for an event the relay never sent to Dojo (exit 1)", async () => {
    const e = await seed({ paymentIntentId: "pi_sandbox_never", submitted: false, park: "unknown_merchant" });
    const result = await run(
      ...words(`settle ${e.eventId} --as succeeded --refund-id rfnd_x --reason r --dry-run`),
    );
    expect(result.code).toBe(1);
    expect(result.err).toContain("never sent this event to Dojo");
  });

  it("refuses an event that is already settled (exit 1) and says what is stored", async () => {
    const e = await seed({ paymentIntentId: "pi_sandbox_done0001" });
    const ledger = new SqliteLedger({ path: ledgerPath });
    const outcome = manualOutcome(e, { as: "succeeded", refundId: "rfnd_first" }, "urn:r", T0);
    await ledger.settleByHand(
      e,
      { state: "succeeded", outcome, refundId: "rfnd_first", actor: "a", reason: "r" },
      T0,
    );
    await ledger.close();
    vi.stubEnv("KAFKA_BROKERS", "127.0.0.1:1"); // required, but refused before it is used
    const result = await run(
      ...words(`settle ${e.eventId} --source ${e.source} --as failed --code dojo_rejected --reason r`),
    );
    expect(result.code).toBe(1);
    expect(result.err).toContain("already settled: state succeeded, refund.succeeded, refund rfnd_first");
    expect(result.err).toContain(`refund-relay reconcile publish ${e.eventId} --source ${e.source}`);
  });

  it("refuses an open event that is not parked unless --force is given", async () => {
    const e = await seed({ paymentIntentId: "pi_sandbox_inflight", park: null });
    const args = words(
      `settle ${e.eventId} --source ${e.source} --as failed --code dojo_rejected --reason r --dry-run`,
    );
    const refused = await run(...args);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("not parked");
    expect((await run(...args, "--force")).code).toBe(0);
  });
});

describe("refund-relay reconcile publish", () => {
  it("refuses an event that has no outcome yet (exit 1)", async () => {
    vi.stubEnv("KAFKA_BROKERS", "127.0.0.1:1"); // required, but refused before it is used
    const e = await seed({ paymentIntentId: "pi_sandbox_unsettled" });
    const result = await run(...words(`publish ${e.eventId} --source ${e.source}`));
    expect(result.code).toBe(1);
    expect(result.err).toContain("has no outcome yet (state unknown); settle it first");
  });
});

describe("formatMoney", () => {
  it("uses the currency's usual digits", () => {
    expect(formatMoney(4598, "GBP")).toBe("45.98 GBP");
    expect(formatMoney(5, "EUR")).toBe("0.05 EUR");
    expect(formatMoney(1200, "JPY")).toBe("1200 JPY");
    expect(formatMoney(1234, "BHD")).toBe("1.234 BHD");
  });
});

function fakeEntry(): LedgerEntry {
  const event = returnApproved({ paymentIntentId: "pi_sandbox_fake", amount: 100 });
  return {
    source: event.source,
    eventId: event.id,
    idempotencyKey: idempotencyKeyFor(event),
    requestHash: "h",
    paymentIntentId: event.data.paymentIntentId,
    merchantId: null,
    amount: 100,
    currencyCode: "GBP",
    event,
    state: "received",
    attempts: 0,
    firstSeenAt: T0,
    updatedAt: T0,
    refundId: null,
    method: null,
    outcome: null,
    lastError: null,
    parked: { code: "unknown_merchant", reason: "r", at: T0 },
  };
}
