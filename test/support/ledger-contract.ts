// The behaviour every ledger backend must show. A backend's test file calls describeLedgerContract with
// a factory that opens a fresh, empty ledger; the suite runs unchanged against each backend.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Ledger, NewLedgerEntry } from "../../src/ledger/types.ts";

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
      await ledger.markSubmitting(entry, "refund", later(1));
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

    it("counts every submission and keeps the last indeterminate error", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await ledger.markSubmitting(entry, "refund", later(1));
      const unknown = await ledger.markUnknown(entry, "timeout after sending", later(2));
      expect(unknown).toMatchObject({ state: "unknown", attempts: 1, lastError: "timeout after sending" });
      const retried = await ledger.markSubmitting(entry, "refund", later(3));
      expect(retried).toMatchObject({ state: "submitting", attempts: 2 });
      expect(retried.updatedAt.toISOString()).toBe(later(3).toISOString());
    });

    it("stores the outcome and refund id when settled, then marks it published", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      const outcome = { id: "out-1", type: "refund.succeeded", data: { refundId: "rfnd_1", amount: 1250 } };
      await ledger.begin(entry, t0);
      await ledger.markSubmitting(entry, "refund", later(1));
      const settled = await ledger.settle(
        entry,
        { state: "succeeded", outcome, refundId: "rfnd_1" },
        later(2),
      );
      expect(settled).toMatchObject({ state: "succeeded", refundId: "rfnd_1", outcome });
      const published = await ledger.markPublished(entry, later(3));
      expect(published).toMatchObject({ state: "published", outcome, refundId: "rfnd_1" });
      expect(await ledger.markPublished(entry, later(4))).toMatchObject({ state: "published" });
    });

    it("keeps the first stored outcome when a second one arrives", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await ledger.settle(entry, { state: "succeeded", outcome: { n: 1 }, refundId: "rfnd_1" }, later(1));
      const second = await ledger.settle(entry, { state: "failed", outcome: { n: 2 } }, later(2));
      expect(second).toMatchObject({ state: "succeeded", outcome: { n: 1 }, refundId: "rfnd_1" });
    });

    it("refuses to submit again once an event is settled", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await ledger.settle(entry, { state: "failed", outcome: { code: "payment_not_found" } }, later(1));
      await expect(ledger.markSubmitting(entry, "refund", later(2))).rejects.toThrow(/state failed/);
      await expect(ledger.markUnknown(entry, "x", later(2))).rejects.toThrow(/state failed/);
    });

    it("records the method of the first submission and refuses to switch it", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      expect((await ledger.get(entry))?.method).toBeNull();
      expect(await ledger.markSubmitting(entry, "reversal", later(1))).toMatchObject({ method: "reversal" });
      await expect(ledger.markSubmitting(entry, "refund", later(2))).rejects.toThrow(
        /already submitted as a reversal/,
      );
      expect(await ledger.markSubmitting(entry, "reversal", later(3))).toMatchObject({ attempts: 2 });
    });

    it("refuses to publish an event whose outcome is not decided", async () => {
      const ledger = await fresh();
      const entry = sampleEntry();
      await ledger.begin(entry, t0);
      await expect(ledger.markPublished(entry, later(1))).rejects.toThrow(/state received/);
    });

    it("fails clearly for an event it has never seen", async () => {
      const ledger = await fresh();
      await expect(ledger.markSubmitting(sampleEntry(), "refund", t0)).rejects.toThrow(/no ledger entry/);
      expect(await ledger.get(sampleEntry())).toBeUndefined();
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
        await ledger.markSubmitting(inFlight, "refund", later(1));
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
