// `refund-relay inspect` on SQLite ledgers, and the ledger's read-only lookups on SQLite (the lookup
// contract, on the calling thread and on the worker thread). PostgreSQL: test/integration/cli.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { idempotencyKeyFor, outcomeEventId } from "../../../schemas/index.ts";
import { inspectCommand } from "../../../src/cli/inspect.ts";
import { main } from "../../../src/cli/main.ts";
import { SqliteLedger, ThreadedSqliteLedger } from "../../../src/ledger/index.ts";
import { returnApproved } from "../../support/events.ts";
import { describeLedgerLookupContract } from "../../support/ledger-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "refund-relay-inspect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describeLedgerLookupContract("sqlite in memory, calling thread", {
  open: async () => new SqliteLedger({ path: ":memory:" }),
});
describeLedgerLookupContract("sqlite file, worker thread", {
  open: () => ThreadedSqliteLedger.open({ path: join(dir, `lookup-${++files}.db`) }),
});

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr }, text };
}

const T0 = new Date("2026-11-26T10:00:00Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

describe("refund-relay inspect (SQLite)", () => {
  const ledgerPath = join(dir, "inspect.db");
  const pi = "pi_inspect_1";
  // Refunded and published; its return id is in the stored outcome.
  const refunded = returnApproved({ paymentIntentId: pi, amount: 4598, returnId: "RMA-inspect-1" });
  // Parked after Dojo's answer was lost; its return id is in the copy of the event the ledger keeps.
  const parked = returnApproved({ paymentIntentId: pi, amount: 1000, returnId: "RMA-inspect-2" });
  // The same event id from another platform, on another payment.
  const namesake = returnApproved({
    id: refunded.id,
    source: "urn:shop:other",
    paymentIntentId: "pi_other",
    amount: 700,
  });

  beforeAll(async () => {
    const ledger = new SqliteLedger({ path: ledgerPath });
    const begin = async (event: typeof refunded, when: Date) => {
      const ref = { source: event.source, eventId: event.id };
      await ledger.begin(
        {
          ...ref,
          idempotencyKey: idempotencyKeyFor(event),
          requestHash: `hash-${event.id}`,
          paymentIntentId: event.data.paymentIntentId,
          merchantId: null,
          amount: event.data.amount.value,
          currencyCode: event.data.amount.currencyCode,
        },
        when,
      );
      return ref;
    };
    const r1 = await begin(refunded, T0);
    await ledger.markSubmitting(r1, "refund", { state: "received", attempts: 0 }, at(1));
    const outcome = {
      specversion: "1.0",
      type: "refund.succeeded",
      id: outcomeEventId(r1.source, r1.eventId, "refund.succeeded"),
      time: at(2).toISOString(),
      data: { returnId: refunded.data.returnId, refundId: "rfnd_inspect_1", method: "refund" },
    };
    await ledger.settle(r1, { state: "succeeded", outcome, refundId: "rfnd_inspect_1" }, at(2));
    await ledger.markPublished(r1, at(3));
    const r2 = await begin(parked, at(10));
    await ledger.markSubmitting(r2, "refund", { state: "received", attempts: 0 }, at(11));
    await ledger.markUnknown(r2, "socket hang up", { state: "submitting", attempts: 1 }, at(12));
    const { specversion, id, source, type, data } = parked;
    await ledger.markParked(r2, "retry_budget_exhausted", "Dojo's answer stayed unknown", at(13), {
      specversion,
      id,
      source,
      type,
      data,
    });
    await begin(namesake, at(20));
    // A live lease on the payment intent, far in the future so the test never sees it expire.
    await ledger.claimIntent(pi, "relay-host-1", 10 * 365 * 86_400_000, new Date());
    await ledger.close();
  });
  afterEach(() => vi.unstubAllEnvs());

  async function inspect(...args: string[]) {
    vi.stubEnv("LEDGER_URL", `sqlite:${ledgerPath}`);
    const { io, text } = capture();
    const code = await inspectCommand.run(args, io);
    return { code, ...text };
  }

  it("shows an event by its event id, from every source that used it", async () => {
    const r = await inspect(refunded.id, "--event");
    expect(r).toMatchObject({ code: 0, err: "" });
    expect(r.out).toMatch(new RegExp(`^2 entries for "${refunded.id}" \\(looked up as event id\\)`));
    expect(r.out).toContain(`${refunded.id} from urn:shop:test (matched as event id)`);
    expect(r.out).toContain(`${refunded.id} from urn:shop:other (matched as event id)`);
    expect(r.out).toMatch(/state\s+published \(attempts 1, method refund\)/);
    expect(r.out).toMatch(/amount\s+45\.98 GBP/);
    expect(r.out).toMatch(new RegExp(`idempotency key\\s+${idempotencyKeyFor(refunded)}`));
    expect(r.out).toMatch(/refund id\s+rfnd_inspect_1/);
    expect(r.out).toMatch(/outcome\s+refund\.succeeded, refund rfnd_inspect_1, by refund, outcome id /);
    expect(r.out).toMatch(/first seen\s+2026-11-26T10:00:00\.000Z/);
    expect(r.out).toMatch(/updated\s+2026-11-26T10:00:00\.003Z/);
    expect(r.out).toMatch(/intent lease\s+held by relay-host-1 until /);
    expect(r.out).toMatch(/intent lease\s+none/);
  });

  it("narrows to one source with --source", async () => {
    const r = await inspect(refunded.id, "--event", "--source", "urn:shop:other");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^1 entry for /);
    expect(r.out).toMatch(/amount\s+7\.00 GBP/);
    expect(r.out).not.toContain("urn:shop:test");
  });

  it("finds a settled event by the return id in its outcome, and a parked one by the copy of its event", async () => {
    const settled = await inspect("RMA-inspect-1", "--return");
    expect(settled.code).toBe(0);
    expect(settled.out).toContain(`${refunded.id} from urn:shop:test (matched as return id)`);
    expect(settled.out).toMatch(/return id\s+RMA-inspect-1/);
    const open = await inspect("RMA-inspect-2", "--return");
    expect(open.code).toBe(0);
    expect(open.out).toMatch(/state\s+unknown \(attempts 1, method refund\)/);
    expect(open.out).toMatch(
      /parked\s+retry_budget_exhausted at 2026-11-26T10:00:00\.013Z: Dojo's answer stayed unknown/,
    );
    expect(open.out).toMatch(/last error\s+socket hang up/);
    expect(open.out).toMatch(/outcome\s+none yet/);
  });

  it("lists every event of a payment intent, oldest first", async () => {
    const r = await inspect(pi, "--intent");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^2 entries for /);
    expect(r.out.indexOf(refunded.id)).toBeLessThan(r.out.indexOf(parked.id));
    expect(r.out).not.toContain("urn:shop:other");
  });

  it("tries every kind of id without a flag, and says how each entry matched", async () => {
    const r = await inspect("RMA-inspect-2");
    expect(r.code).toBe(0);
    expect(r.out).toContain("(looked up as event id, return id, payment intent id)");
    expect(r.out).toContain(`${parked.id} from urn:shop:test (matched as return id)`);
    const byIntent = await inspect(pi);
    expect(byIntent.out).toMatch(/^2 entries /);
  });

  it("answers --json with the entries, their outcome summary, the kept event and the lease", async () => {
    const r = await inspect(pi, "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc).toMatchObject({ id: pi, kinds: ["event", "return", "intent"], truncated: false });
    expect(doc.entries).toHaveLength(2);
    expect(doc.entries[0]).toMatchObject({
      source: "urn:shop:test",
      eventId: refunded.id,
      state: "published",
      attempts: 1,
      idempotencyKey: idempotencyKeyFor(refunded),
      amount: { value: 4598, currencyCode: "GBP" },
      refundId: "rfnd_inspect_1",
      returnId: "RMA-inspect-1",
      matchedBy: ["intent"],
      outcomeSummary: { type: "refund.succeeded", refundId: "rfnd_inspect_1", code: null },
      parked: null,
      event: null,
      lease: { owner: "relay-host-1", token: 1, status: "held" },
      firstSeenAt: "2026-11-26T10:00:00.000Z",
    });
    expect(doc.entries[1]).toMatchObject({
      eventId: parked.id,
      state: "unknown",
      parked: { code: "retry_budget_exhausted" },
      event: { id: parked.id, data: { returnId: "RMA-inspect-2" } },
      outcome: null,
    });
  });

  it("exits 1 when nothing matches, in either output", async () => {
    const r = await inspect("evt-nobody");
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      'no ledger entry for "evt-nobody" (looked up as event id, return id, payment intent id)\n',
    );
    // The id of a payment intent is not an event id.
    expect((await inspect(pi, "--event")).code).toBe(1);
    const json = await inspect("evt-nobody", "--json", "--intent");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ entries: [], kinds: ["intent"] });
  });

  it("says when a lookup stopped at --limit", async () => {
    const r = await inspect(pi, "--intent", "--limit", "1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^1 entry /);
    expect(r.err).toMatch(/stopped at --limit 1/);
  });

  it("exits 2 on usage and configuration errors, and never creates a ledger", async () => {
    expect((await inspect()).code).toBe(2);
    expect((await inspect("a", "b")).code).toBe(2);
    expect((await inspect("a", "--limit", "0")).code).toBe(2);
    expect((await inspect("a", "--bogus")).code).toBe(2);
    const missing = join(dir, "absent", "ledger.db");
    vi.stubEnv("LEDGER_URL", `sqlite:${missing}`);
    const { io, text } = capture();
    expect(await inspectCommand.run(["evt-1"], io)).toBe(2);
    expect(text.err).toContain(`there is no ledger at ${missing}`);
    vi.stubEnv("LEDGER_URL", "mysql://x");
    expect(await inspectCommand.run(["evt-1"], capture().io)).toBe(2);
  });

  it("is registered in refund-relay, with its help", async () => {
    const { io, text } = capture();
    expect(await main(["inspect", "--help"], io)).toBe(0);
    expect(text.out).toContain("usage: refund-relay inspect <id>");
    expect(text.out).toContain("exit status: 0 an entry was found, 1 none was found");
    const overview = capture();
    expect(await main(["--help"], overview.io)).toBe(0);
    expect(overview.text.out).toMatch(/\n {2}inspect <id> /);
    expect(overview.text.out).toMatch(/\n {2}replay /);
  });
});
