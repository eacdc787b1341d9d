// The behaviour every ledger backend must show. A backend's test file calls describeLedgerContract with
// a factory that opens a fresh, empty ledger; the suite runs unchanged against each backend.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type {
  EventRef,
  Expected,
  Ledger,
  LedgerEntry,
  LedgerLookup,
  NewLedgerEntry,
} from "../../src/ledger/types.ts";

export interface LedgerFactory {
  open(): Promise<Ledger>;
  /** Closes and reopens the same store, as a restarted process would. */
  reopen?(ledger: Ledger): Promise<Ledger>;
}

const t0 = new Date("2026-11-26T10:00:00.000Z");
const later = (ms: number) => new Date(t0.getTime() + ms);

export function sampleEntry(overrides: Partial<NewLedgerEntry> = {}): NewLedgerEntry {
  const id = randomUUID();
  return {
    source: "urn:shop:test",
    eventId: `evt-${id}`,
    idempotencyKey: `rr-${id}`,
    requestHash: "hash-a",
    paymentIntentId: "pi_sandbox_1",
    merchantId: null,
    amount: 1250,
    currencyCode: "GBP",
    ...overrides,
  };
}

/** A submission that must apply; returns the row after it. */
async function submit(
  ledger: Ledger,
  ref: EventRef,
  expected: Expected,
  at: Date,
  method: "refund" | "reversal" = "refund",
): Promise<LedgerEntry> {
  const result = await ledger.markSubmitting(ref, method, expected, at);
  if (!result.ok) throw new Error(`submission refused: ${result.reason}`);
  return result.entry;
}

export function describeLedgerContract(name: string, factory: LedgerFactory): void {
  describe(`ledger contract: ${name}`, () => {
    const open: Ledger[] = [];
    const fresh = async () => {
      const ledger = await factory.open();
      open.push(ledger);
      return ledger;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((l) => l.close()));
    });

    it("records a new event in state received with no attempts", async () => {
      const ledger = await fresh();
      const entry = sampleEntry({ merchantId: "m-1" });
      const result = await ledger.begin(entry, t0);
      expect(result.kind).toBe("new");
      expect(result.entry).toMatchObject({
        ...entry,
        state: "received",
        attempts: 0,
        refundId: null,
        method: null,
      });
      expect(result.entry.firstSeenAt.toISOString()).toBe(t0.toISOString());
    });

    it("recognises a redelivery with the same content as existing, keeping its progress", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await submit(ledger, entry, { state: "received", attempts: 0 }, later(1));
      const again = await ledger.begin(entry, later(2));
      expect(again.kind).toBe("existing");
      expect(again.entry.state).toBe("submitting");
      expect(again.entry.attempts).toBe(1);
      expect(again.entry.firstSeenAt.toISOString()).toBe(t0.toISOString());
    });

    it("reports a content conflict when the same event id arrives with another request hash", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      const result = await ledger.begin({ ...entry, requestHash: "hash-b", amount: 99 }, later(1));
      expect(result).toMatchObject({ kind: "conflict", reason: "content" });
      expect(result.entry.requestHash).toBe("hash-a");
      expect(result.entry.amount).toBe(1250);
    });

    it("reports a key conflict when another event would reuse an idempotency key", async () => {
      const ledger = await fresh();
      const first = sampleEntry();
      await ledger.begin(first, t0);
      const second = sampleEntry({ idempotencyKey: first.idempotencyKey });
      const result = await ledger.begin(second, later(1));
      expect(result).toMatchObject({ kind: "conflict", reason: "key" });
      expect(result.entry.eventId).toBe(first.eventId);
      expect(await ledger.get(second)).toBeUndefined();
    });

    it("counts every request Dojo may have seen and keeps the last indeterminate error", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await submit(ledger, entry, { state: "received", attempts: 0 }, later(1));
      // The client resent the request twice inside the call: three requests in all.
      const unknown = await ledger.markUnknown(
        entry,
        "timeout after sending",
        { state: "submitting", attempts: 1 },
        later(2),
        3,
      );
      expect(unknown).toMatchObject({
        ok: true,
        entry: { state: "unknown", attempts: 3, lastError: "timeout after sending" },
      });
      const retried = await submit(ledger, entry, { state: "unknown", attempts: 3 }, later(3));
      expect(retried).toMatchObject({ state: "submitting", attempts: 4 });
      expect(retried.updatedAt.toISOString()).toBe(later(3).toISOString());
    });

    it("refuses a submission from a writer that saw an older row, and hands back the row as it is", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await submit(ledger, entry, { state: "received", attempts: 0 }, later(1));
      const stale = await ledger.markSubmitting(
        entry,
        "refund",
        { state: "received", attempts: 0 },
        later(2),
      );
      expect(stale).toMatchObject({ ok: false, entry: { state: "submitting", attempts: 1 } });
      const unknownStale = await ledger.markUnknown(entry, "x", { state: "received", attempts: 0 }, later(2));
      expect(unknownStale).toMatchObject({ ok: false, entry: { state: "submitting", attempts: 1 } });
      expect(await ledger.get(entry)).toMatchObject({ state: "submitting", attempts: 1, lastError: null });
    });

    it("stores the outcome and refund id when settled, then marks it published", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      const outcome = { id: "out-1", type: "refund.succeeded", data: { refundId: "rfnd_1", amount: 1250 } };
      await ledger.begin(entry, t0);
      await submit(ledger, entry, { state: "received", attempts: 0 }, later(1));
      const settled = await ledger.settle(
        entry,
        { state: "succeeded", outcome, refundId: "rfnd_1", requests: 2 },
        later(2),
      );
      expect(settled).toMatchObject({
        kind: "settled",
        entry: { state: "succeeded", refundId: "rfnd_1", outcome, attempts: 2 },
      });
      const published = await ledger.markPublished(entry, later(3));
      expect(published).toMatchObject({ state: "published", outcome, refundId: "rfnd_1" });
      expect(await ledger.markPublished(entry, later(4))).toMatchObject({ state: "published" });
    });

    it("stores a refusal only for the row the decision saw (a preflight refusal only on an untouched row)", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      // Another writer submitted the event after this one read the row as received.
      await submit(ledger, entry, { state: "received", attempts: 0 }, later(1));
      const refused = await ledger.settle(
        entry,
        {
          state: "failed",
          outcome: { code: "amount_exceeds_refundable" },
          expected: { state: "received", attempts: 0 },
        },
        later(2),
      );
      expect(refused).toMatchObject({
        kind: "stale",
        entry: { state: "submitting", attempts: 1, outcome: null },
      });
      const current = await ledger.settle(
        entry,
        {
          state: "failed",
          outcome: { code: "dojo_rejected" },
          expected: { state: "submitting", attempts: 1 },
        },
        later(3),
      );
      expect(current).toMatchObject({
        kind: "settled",
        entry: { state: "failed", outcome: { code: "dojo_rejected" } },
      });
    });

    it("refuses to store a refusal without naming the row it expects", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await expect(ledger.settle(entry, { state: "failed", outcome: {} }, later(1))).rejects.toThrow(
        /expected/,
      );
    });

    it("keeps a stored success when a refusal or a second success arrives", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await ledger.settle(entry, { state: "succeeded", outcome: { n: 1 }, refundId: "rfnd_1" }, later(1));
      const failed = await ledger.settle(
        entry,
        { state: "failed", outcome: { n: 2 }, expected: { state: "received", attempts: 0 } },
        later(2),
      );
      expect(failed).toMatchObject({
        kind: "kept",
        entry: { state: "succeeded", outcome: { n: 1 }, refundId: "rfnd_1" },
      });
      const again = await ledger.settle(
        entry,
        { state: "succeeded", outcome: { n: 3 }, refundId: "rfnd_1" },
        later(3),
      );
      expect(again).toMatchObject({ kind: "kept", entry: { outcome: { n: 1 } } });
    });

    it("lets a Dojo success replace a stored failure, published or not, and says so", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await ledger.settle(
        entry,
        { state: "failed", outcome: { type: "refund.failed" }, expected: { state: "received", attempts: 0 } },
        later(1),
      );
      await ledger.markPublished(entry, later(2));
      const corrected = await ledger.settle(
        entry,
        { state: "succeeded", outcome: { type: "refund.succeeded" }, refundId: "rfnd_7" },
        later(3),
      );
      expect(corrected).toMatchObject({
        kind: "corrected",
        previous: { type: "refund.failed" },
        entry: { state: "succeeded", refundId: "rfnd_7", outcome: { type: "refund.succeeded" } },
      });
      expect(await ledger.get(entry)).toMatchObject({ state: "succeeded", refundId: "rfnd_7" });
    });

    it("refuses to submit again once an event is settled", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await ledger.settle(
        entry,
        {
          state: "failed",
          outcome: { code: "payment_not_found" },
          expected: { state: "received", attempts: 0 },
        },
        later(1),
      );
      const settledRow = { state: "failed", attempts: 0 } as const;
      expect(await ledger.markSubmitting(entry, "refund", settledRow, later(2))).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/state failed/),
      });
      expect(await ledger.markUnknown(entry, "x", settledRow, later(2))).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/state failed/),
      });
    });

    it("records the method of the first submission and refuses to switch it", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      expect((await ledger.get(entry))?.method).toBeNull();
      expect(
        await submit(ledger, entry, { state: "received", attempts: 0 }, later(1), "reversal"),
      ).toMatchObject({
        method: "reversal",
      });
      await expect(
        ledger.markSubmitting(entry, "refund", { state: "submitting", attempts: 1 }, later(2)),
      ).rejects.toThrow(/already submitted as a reversal/);
      expect(
        await submit(ledger, entry, { state: "submitting", attempts: 1 }, later(3), "reversal"),
      ).toMatchObject({
        attempts: 2,
      });
    });

    it("refuses to publish an event whose outcome is not decided", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await expect(ledger.markPublished(entry, later(1))).rejects.toThrow(/state received/);
    });

    it("fails clearly for an event it has never seen", async () => {
      const ledger = await fresh();
      await expect(
        ledger.markSubmitting(sampleEntry(), "refund", { state: "received", attempts: 0 }, t0),
      ).rejects.toThrow(/no ledger entry/);
      expect(await ledger.get(sampleEntry())).toBeUndefined();
    });

    it("lists parked open events for a person and forgets the mark once the event settles", async () => {
      const ledger = await fresh();
      const parked = sampleEntry();
      const other = sampleEntry();
      await ledger.begin(parked, t0);
      await ledger.begin(other, t0);
      await submit(ledger, parked, { state: "received", attempts: 0 }, later(1));
      await ledger.markParked(parked, "needs_reconciliation", "Dojo refused after a timeout", later(2));
      const listed = await ledger.listParked(10);
      expect(listed.map((e) => e.eventId)).toEqual([parked.eventId]);
      expect(listed[0]?.parked).toMatchObject({
        code: "needs_reconciliation",
        reason: "Dojo refused after a timeout",
      });
      await ledger.settle(parked, { state: "succeeded", outcome: { ok: 1 }, refundId: "rfnd_p" }, later(3));
      expect(await ledger.listParked(10)).toEqual([]);
      expect((await ledger.get(parked))?.parked).toBeNull();
    });

    it("settles an open event by hand with an audit record, and refuses a settled one", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await submit(ledger, entry, { state: "received", attempts: 0 }, later(1));
      const byHand = await ledger.settleByHand(
        entry,
        {
          state: "succeeded",
          outcome: { o: 1 },
          refundId: "rfnd_hand",
          actor: "ops@example",
          reason: "seen in the Dojo dashboard",
        },
        later(2),
      );
      expect(byHand).toMatchObject({ ok: true, entry: { state: "succeeded", refundId: "rfnd_hand" } });
      const again = await ledger.settleByHand(
        entry,
        { state: "failed", outcome: { o: 2 }, refundId: null, actor: "ops@example", reason: "oops" },
        later(3),
      );
      expect(again).toMatchObject({ ok: false, entry: { state: "succeeded" } });
      const audit = await ledger.audit(entry);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        actor: "ops@example",
        action: "settle-as-succeeded",
        reason: "seen in the Dojo dashboard",
        previousState: "submitting",
        newState: "succeeded",
      });
      expect(audit[0]?.at.toISOString()).toBe(later(2).toISOString());
    });

    it("gives the lease on a payment intent to one owner at a time, and extends it for its holder", async () => {
      const ledger = await fresh();
      const a = await ledger.claimIntent("pi_lease", "relay-a", 30_000, t0);
      expect(a).toMatchObject({
        ok: true,
        lease: { paymentIntentId: "pi_lease", owner: "relay-a", token: 1 },
      });
      if (!a.ok) throw new Error("unreachable");
      expect(a.lease.expiresAt.toISOString()).toBe(later(30_000).toISOString());
      const b = await ledger.claimIntent("pi_lease", "relay-b", 30_000, later(1_000));
      expect(b).toMatchObject({ ok: false, holder: "relay-a" });
      if (b.ok) throw new Error("unreachable");
      expect(b.expiresAt.toISOString()).toBe(later(30_000).toISOString());
      const again = await ledger.claimIntent("pi_lease", "relay-a", 30_000, later(2_000));
      expect(again).toMatchObject({ ok: true, lease: { owner: "relay-a", token: 1 } });
      expect((await ledger.claimIntent("pi_other", "relay-b", 30_000, later(2_000))).ok).toBe(true);
    });

    it("lets another owner take over an expired lease and refuses the old holder's late writes", async () => {
      const ledger = await fresh();
      const entry = sampleEntry({ paymentIntentId: "pi_takeover" });
      await ledger.begin(entry, t0);
      const old = await ledger.claimIntent("pi_takeover", "relay-a", 1_000, t0);
      if (!old.ok) throw new Error("the first claim must succeed");
      const taken = await ledger.claimIntent("pi_takeover", "relay-b", 1_000, later(1_000));
      expect(taken).toMatchObject({ ok: true, lease: { owner: "relay-b", token: 2 } });
      if (!taken.ok) throw new Error("unreachable");

      const lateSubmit = await ledger.markSubmitting(
        entry,
        "refund",
        { state: "received", attempts: 0, lease: old.lease },
        later(1_001),
      );
      expect(lateSubmit).toMatchObject({
        ok: false,
        leaseLost: true,
        entry: { state: "received", attempts: 0 },
      });
      const lateFailure = await ledger.settle(
        entry,
        {
          state: "failed",
          outcome: { late: true },
          expected: { state: "received", attempts: 0, lease: old.lease },
        },
        later(1_002),
      );
      expect(lateFailure).toMatchObject({ kind: "lease_lost", entry: { state: "received", outcome: null } });

      const current = await ledger.markSubmitting(
        entry,
        "refund",
        { state: "received", attempts: 0, lease: taken.lease },
        later(1_003),
      );
      expect(current).toMatchObject({ ok: true, entry: { state: "submitting", attempts: 1 } });
      const lateUnknown = await ledger.markUnknown(
        entry,
        "timeout",
        { state: "submitting", attempts: 1, lease: old.lease },
        later(1_004),
      );
      expect(lateUnknown).toMatchObject({ ok: false, leaseLost: true });
      // What Dojo confirmed is true whoever reports it.
      const success = await ledger.settle(
        entry,
        { state: "succeeded", outcome: { ok: true }, refundId: "rfnd_late" },
        later(1_005),
      );
      expect(success).toMatchObject({
        kind: "settled",
        entry: { state: "succeeded", refundId: "rfnd_late" },
      });
    });

    it("renews only the leases still held and releases only its own", async () => {
      const ledger = await fresh();
      const mine = await ledger.claimIntent("pi_r1", "relay-a", 1_000, t0);
      const lost = await ledger.claimIntent("pi_r2", "relay-a", 1_000, t0);
      if (!mine.ok || !lost.ok) throw new Error("the claims must succeed");
      await ledger.claimIntent("pi_r2", "relay-b", 1_000, later(1_000));
      const renewed = await ledger.renewIntents([mine.lease, lost.lease], 5_000, later(900));
      expect(renewed.map((l) => l.paymentIntentId)).toEqual(["pi_r1"]);
      expect(renewed[0]?.expiresAt.toISOString()).toBe(later(5_900).toISOString());
      await ledger.releaseIntent(lost.lease);
      expect(await ledger.claimIntent("pi_r2", "relay-c", 1_000, later(1_100))).toMatchObject({
        ok: false,
        holder: "relay-b",
      });
      await ledger.releaseIntent(mine.lease);
      expect(await ledger.claimIntent("pi_r1", "relay-c", 1_000, later(1_200))).toMatchObject({
        ok: true,
        lease: { owner: "relay-c", token: 2 },
      });
    });

    it("keeps events from different sources with the same id apart", async () => {
      const ledger = await fresh();
      const a = sampleEntry({ eventId: "evt-shared" });
      const b = sampleEntry({ eventId: "evt-shared", source: "urn:shop:other" });
      expect((await ledger.begin(a, t0)).kind).toBe("new");
      expect((await ledger.begin(b, t0)).kind).toBe("new");
    });

    if (factory.reopen !== undefined) {
      const reopen = factory.reopen;
      it("keeps every state across a restart", async () => {
        const ledger = await fresh();
        const inFlight = sampleEntry();
        const done = sampleEntry();
        await ledger.begin(inFlight, t0);
        await submit(ledger, inFlight, { state: "received", attempts: 0 }, later(1));
        await ledger.begin(done, t0);
        await ledger.settle(
          done,
          { state: "succeeded", outcome: { ok: true }, refundId: "rfnd_9" },
          later(1),
        );
        const restarted = await reopen(ledger);
        open.push(restarted);
        expect(await restarted.get(inFlight)).toMatchObject({ state: "submitting", attempts: 1 });
        expect(await restarted.get(done)).toMatchObject({ state: "succeeded", refundId: "rfnd_9" });
        expect((await restarted.begin(inFlight, later(5))).kind).toBe("existing");
      });
    }
  });
}

export interface LookupLedgerFactory {
  open(): Promise<Ledger & LedgerLookup>;
}

const refOf = (e: LedgerEntry) => `${e.source} ${e.eventId}`;

/**
 * The read-only lookups (LedgerLookup) every backend must answer alike: by event id across sources, by
 * return id from the stored event or outcome, by payment intent, and the stored lease of an intent.
 */
export function describeLedgerLookupContract(name: string, factory: LookupLedgerFactory): void {
  describe(`ledger lookup contract: ${name}`, () => {
    const open: Ledger[] = [];
    const fresh = async () => {
      const ledger = await factory.open();
      open.push(ledger);
      return ledger;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((l) => l.close()));
    });

    it("finds an event id under every source that used it, oldest first, and nothing else", async () => {
      const ledger = await fresh();
      const shared = `evt-${randomUUID()}`;
      const a = sampleEntry({ eventId: shared, source: "urn:shop:b" });
      const b = sampleEntry({ eventId: shared, source: "urn:shop:a" });
      const c = sampleEntry({ eventId: shared, source: "urn:shop:c" });
      await ledger.begin(a, t0);
      await ledger.begin(b, later(1));
      await ledger.begin(sampleEntry({ source: "urn:shop:z" }), later(2));
      await ledger.begin(c, later(3));
      const found = await ledger.findByEventId(shared, 10);
      expect(found.map(refOf)).toEqual([a, b, c].map((e) => `${e.source} ${e.eventId}`));
      expect(found[1]).toMatchObject({ ...b, state: "received", attempts: 0 });
      expect(await ledger.findByEventId("evt-never-seen", 10)).toEqual([]);
      // A prefix of an id is another id.
      expect(await ledger.findByEventId(shared.slice(0, -1), 10)).toEqual([]);
      expect((await ledger.findByEventId(shared, 2)).map(refOf)).toHaveLength(2);
    });

    it("finds a return id in the stored event of a parked entry and in the stored outcome of a settled one", async () => {
      const ledger = await fresh();
      const returnId = `RMA-"q"\\-${randomUUID().slice(0, 8)}`;
      const parked = sampleEntry();
      const settled = sampleEntry();
      const inFlight = sampleEntry();
      const other = sampleEntry();
      for (const [i, e] of [parked, settled, inFlight, other].entries()) await ledger.begin(e, later(i));
      await ledger.markParked(parked, "retry_budget_exhausted", "Dojo kept failing", later(10), {
        id: parked.eventId,
        data: { returnId, orderId: "ORD-1" },
      });
      await ledger.settle(
        settled,
        { state: "succeeded", outcome: { type: "refund.succeeded", data: { returnId } }, refundId: "rfnd_1" },
        later(11),
      );
      // Its return id is known only to the platform: the ledger keeps no copy of an event in flight.
      await submit(ledger, inFlight, { state: "received", attempts: 0 }, later(12));
      // Another return whose id contains this one is not a match.
      await ledger.settle(
        other,
        {
          state: "succeeded",
          outcome: { data: { returnId: `${returnId}-2`, note: returnId } },
          refundId: "r",
        },
        later(13),
      );
      const found = await ledger.findByReturnId(returnId, 10);
      expect(found.map(refOf)).toEqual([parked, settled].map((e) => `${e.source} ${e.eventId}`));
      expect(found[0]?.parked).toMatchObject({ code: "retry_budget_exhausted" });
      expect(found[1]).toMatchObject({ state: "succeeded", refundId: "rfnd_1" });
      expect(await ledger.findByReturnId("RMA-none", 10)).toEqual([]);
      expect(await ledger.findByReturnId(returnId, 1)).toHaveLength(1);
    });

    it("finds every event of a payment intent, oldest first, in whatever state", async () => {
      const ledger = await fresh();
      const pi = `pi_lookup_${randomUUID().slice(0, 8)}`;
      const first = sampleEntry({ paymentIntentId: pi });
      const second = sampleEntry({ paymentIntentId: pi, source: "urn:shop:other" });
      await ledger.begin(second, later(5));
      await ledger.begin(first, t0);
      await ledger.begin(sampleEntry({ paymentIntentId: `${pi}x` }), later(1));
      await ledger.settle(first, { state: "succeeded", outcome: {}, refundId: "rfnd_a" }, later(6));
      const found = await ledger.findByPaymentIntent(pi, 10);
      expect(found.map(refOf)).toEqual([first, second].map((e) => `${e.source} ${e.eventId}`));
      expect(found.map((e) => e.state)).toEqual(["succeeded", "received"]);
      expect(await ledger.findByPaymentIntent("pi_none", 10)).toEqual([]);
      expect(await ledger.findByPaymentIntent(pi, 1)).toHaveLength(1);
    });

    it("reads an intent's lease as stored: held, released (kept as expired), or never taken", async () => {
      const ledger = await fresh();
      expect(await ledger.intentLease("pi_never")).toBeUndefined();
      const claim = await ledger.claimIntent("pi_l1", "relay-a", 5_000, t0);
      if (!claim.ok) throw new Error("claim refused");
      expect(await ledger.intentLease("pi_l1")).toEqual({
        paymentIntentId: "pi_l1",
        owner: "relay-a",
        token: 1,
        expiresAt: later(5_000),
      });
      await ledger.releaseIntent(claim.lease);
      const released = await ledger.intentLease("pi_l1");
      expect(released).toMatchObject({ owner: "relay-a", token: 1 });
      expect(released?.expiresAt.getTime()).toBeLessThanOrEqual(t0.getTime());
    });

    it("refuses a limit that is not a positive integer, and finds nothing for ids no ledger can hold", async () => {
      const ledger = await fresh();
      await expect(ledger.findByPaymentIntent("pi", 0)).rejects.toThrow(/limit/);
      await expect(ledger.findByEventId("evt", 1.5)).rejects.toThrow(/limit/);
      expect(await ledger.findByEventId("evt-\u0000", 5)).toEqual([]);
      expect(await ledger.findByReturnId("RMA-\ud800", 5)).toEqual([]);
    });

    it("refuses lookups once closed", async () => {
      const ledger = await factory.open();
      await ledger.close();
      await expect(ledger.findByEventId("evt", 1)).rejects.toThrow(/closed/);
    });
  });
}
