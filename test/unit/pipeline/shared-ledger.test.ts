// Two relay instances sharing one ledger (finding B), and the fencing that keeps a writer that decided
// on a stale row from storing its answer: markSubmitting and a stored failure name the row they expect;
// a stale decision is made again from the row as it is now. A Dojo success is always stored: over a
// stored failure it is a correction, published as refund.succeeded with an alert.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeReturnApproved } from "../../../schemas/index.ts";
import type { DojoClient } from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { RefundPipeline } from "../../../src/pipeline/index.ts";
import { failedOutcome } from "../../../src/pipeline/outcomes.ts";
import {
  capturedIntent,
  DojoSim,
  deferred,
  event,
  FakeSink,
  fail,
  keyOf,
  message,
  published,
  recordingLogger,
  SETTINGS,
} from "./fakes.ts";

const PI = "pi_shared";

let dir: string;
let ledgerA: SqliteLedger;
let ledgerB: SqliteLedger;
let sinkA: FakeSink;
let sinkB: FakeSink;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "refund-relay-shared-"));
  const path = join(dir, "ledger.db");
  // Two connections to one file, as two relay instances on one host would have.
  ledgerA = new SqliteLedger({ path });
  ledgerB = new SqliteLedger({ path });
  sinkA = new FakeSink();
  sinkB = new FakeSink();
});

afterEach(async () => {
  await ledgerA.close();
  await ledgerB.close();
  rmSync(dir, { recursive: true, force: true });
});

type DojoPort = Pick<DojoClient, "createRefund" | "createReversal" | "getPaymentIntent">;

/**
 * Both instances carry one lease owner name, so the intent's lease keeps neither waiting (as when a
 * lease was lost without either noticing): only the row's own fencing keeps their writes apart.
 * leases.test.ts covers instances with leases of their own.
 */
function instance(ledger: SqliteLedger, sink: FakeSink, dojo: DojoPort): RefundPipeline {
  return new RefundPipeline(
    { ...SETTINGS, lease: { owner: "one-owner-for-both" } },
    { ledger, dojo, sink, logger: silentLogger, random: () => 0 },
  );
}

/** The calls of one instance go to the shared Dojo through `hooks`, which may hold them. */
function view(dojo: DojoSim, hooks: Partial<DojoPort>): DojoPort {
  return {
    getPaymentIntent: hooks.getPaymentIntent ?? dojo.getPaymentIntent,
    createRefund: hooks.createRefund ?? dojo.createRefund,
    createReversal: hooks.createReversal ?? dojo.createReversal,
  };
}

const types = (sink: FakeSink) => sink.published.map((o) => o.type);

describe("finding B: two instances share one ledger and both get the same event", () => {
  it("B decides on a stale row while A submits: neither answers refund.failed, both publish A's refund", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const bReading = deferred();
    const aAtDojo = deferred();
    const releaseA = deferred();

    const a = instance(
      ledgerA,
      sinkA,
      view(dojo, {
        // A reads the intent only once B is reading it too: both decide on the row `received`.
        getPaymentIntent: async (input) => {
          await bReading.promise;
          return dojo.getPaymentIntent(input);
        },
        // Dojo applies A's refund at once; its answer is held.
        createRefund: async (input) => {
          const answer = await dojo.createRefund(input);
          aAtDojo.resolve();
          await releaseA.promise;
          return answer;
        },
      }),
    );
    const b = instance(
      ledgerB,
      sinkB,
      view(dojo, {
        // B's read is answered after Dojo applied A's refund: it shows 3000 of 5000 refunded.
        getPaymentIntent: async (input) => {
          bReading.resolve();
          await aAtDojo.promise;
          return dojo.getPaymentIntent(input);
        },
      }),
    );

    const fromA = a.process(message(e));
    const fromB = b.process(message(e));
    const outcomeB = published(await fromB);
    releaseA.resolve();
    const outcomeA = published(await fromA);

    // Before key-first and fencing, B answered amount_exceeds_refundable (3000 > the 2000 left).
    expect(types(sinkA)).toEqual(["refund.succeeded"]);
    expect(types(sinkB)).toEqual(["refund.succeeded"]);
    expect(outcomeA.id).toBe(outcomeB.id);
    expect(outcomeA).toEqual(outcomeB);
    expect(outcomeB.data).toMatchObject({ refundId: dojo.made[0]?.refundId, idempotencyKey: keyOf(e) });
    // One refund at Dojo; both requests carried the event's key.
    expect(dojo.made).toHaveLength(1);
    expect(dojo.refunds().map((r) => r.idempotencyKey)).toEqual([keyOf(e), keyOf(e)]);
    const row = await ledgerA.get({ source: e.source, eventId: e.id });
    expect(row).toMatchObject({ refundId: dojo.made[0]?.refundId, attempts: 2 });
    expect(["succeeded", "published"]).toContain(row?.state);
  });

  it("B's stale refusal is not stored: its decision is made again from the row A moved on", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const bReading = deferred();
    const aAtDojo = deferred();
    const releaseA = deferred();

    const a = instance(
      ledgerA,
      sinkA,
      view(dojo, {
        getPaymentIntent: async (input) => {
          await bReading.promise;
          return dojo.getPaymentIntent(input);
        },
        createRefund: async (input) => {
          const answer = await dojo.createRefund(input);
          aAtDojo.resolve();
          await releaseA.promise;
          return answer;
        },
      }),
    );
    const b = instance(
      ledgerB,
      sinkB,
      view(dojo, {
        // B's read says the intent does not exist (a lagging replica): a refusal decided on `received`.
        getPaymentIntent: async () => {
          bReading.resolve();
          await aAtDojo.promise;
          return fail("not_found", "Dojo answered HTTP 404", 404);
        },
      }),
    );

    const fromA = a.process(message(e));
    const fromB = b.process(message(e));
    const outcomeB = published(await fromB);
    releaseA.resolve();
    const outcomeA = published(await fromA);

    expect(types(sinkB)).toEqual(["refund.succeeded"]);
    expect(types(sinkA)).toEqual(["refund.succeeded"]);
    expect(outcomeA.id).toBe(outcomeB.id);
    expect(dojo.made).toHaveLength(1);
    expect(await ledgerB.get({ source: e.source, eventId: e.id })).toMatchObject({
      refundId: dojo.made[0]?.refundId,
    });
  });

  it("B's stale decision finds the row settled by A: B re-publishes A's outcome and calls no refund", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const bReading = deferred();
    const aDone = deferred();

    const a = instance(
      ledgerA,
      sinkA,
      view(dojo, {
        getPaymentIntent: async (input) => {
          await bReading.promise;
          return dojo.getPaymentIntent(input);
        },
      }),
    );
    const b = instance(
      ledgerB,
      sinkB,
      view(dojo, {
        getPaymentIntent: async (input) => {
          bReading.resolve();
          await aDone.promise;
          return dojo.getPaymentIntent(input);
        },
      }),
    );

    const fromB = b.process(message(e));
    const outcomeA = published(await a.process(message(e)));
    aDone.resolve();
    const resultB = await fromB;

    expect(resultB).toMatchObject({ status: "published", replayed: true });
    expect(published(resultB)).toEqual(outcomeA);
    expect(dojo.refunds()).toHaveLength(1);
    expect(dojo.made).toHaveLength(1);
  });

  it("B never sends a second reversal: its stale decision finds A's reversal of unknown fate and parks", async () => {
    const dojo = new DojoSim({ ...capturedIntent(PI, 800), status: "Authorized" });
    const e = event({ paymentIntentId: PI, amount: 800 });
    const bReading = deferred();
    const aAtDojo = deferred();
    const releaseA = deferred();
    const settings = { ...SETTINGS, reverseWhenAuthorized: true, lease: { owner: "one-owner-for-both" } };
    const a = new RefundPipeline(settings, {
      ledger: ledgerA,
      sink: sinkA,
      logger: silentLogger,
      random: () => 0,
      dojo: view(dojo, {
        getPaymentIntent: async (input) => {
          await bReading.promise;
          return dojo.getPaymentIntent(input);
        },
        createReversal: async (input) => {
          const answer = await dojo.createReversal(input);
          aAtDojo.resolve();
          await releaseA.promise;
          return answer;
        },
      }),
    });
    const b = new RefundPipeline(settings, {
      ledger: ledgerB,
      sink: sinkB,
      logger: silentLogger,
      random: () => 0,
      dojo: view(dojo, {
        // B reads the intent while it is still Authorized, and decides only after A sent its reversal.
        getPaymentIntent: async (input) => {
          bReading.resolve();
          const read = await dojo.getPaymentIntent(input);
          await aAtDojo.promise;
          return read;
        },
      }),
    });

    const fromA = a.process(message(e));
    const resultB = await b.process(message(e));
    releaseA.resolve();
    const outcomeA = published(await fromA);

    expect(dojo.ops().filter((op) => op === "createReversal")).toHaveLength(1);
    expect(dojo.reversed).toEqual([PI]);
    expect(resultB).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(sinkB.published).toEqual([]);
    expect(outcomeA.data).toMatchObject({ method: "reversal", refundId: `rv_${PI}` });
  });

  it("lets the other instance re-publish a settled event's stored outcome without calling Dojo", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const first = published(await instance(ledgerA, sinkA, dojo).process(message(e)));
    const again = await instance(ledgerB, sinkB, dojo).process(message(e));
    expect(again).toMatchObject({ status: "published", replayed: true });
    expect(published(again)).toEqual(first);
    expect(dojo.refunds()).toHaveLength(1);
  });
});

describe("ledger fencing: a Dojo success over a stored failure", () => {
  it("is stored and published as refund.succeeded with another outcome id, and raises an alert", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const atDojo = deferred();
    const release = deferred();
    const { logger, lines } = recordingLogger();
    const p = new RefundPipeline(SETTINGS, {
      ledger: ledgerA,
      sink: sinkA,
      logger,
      random: () => 0,
      dojo: view(dojo, {
        createRefund: async (input) => {
          const answer = await dojo.createRefund(input);
          atDojo.resolve();
          await release.promise;
          return answer;
        },
      }),
    });

    const pending = p.process(message(e));
    await atDojo.promise;
    // Meanwhile another instance stored (and published) a failure on the row as it saw it.
    const ref = { source: e.source, eventId: e.id };
    const row = await ledgerB.get(ref);
    expect(row).toMatchObject({ state: "submitting", attempts: 1 });
    const decoded = decodeReturnApproved(message(e));
    if (!decoded.ok) throw new Error("the test event must decode");
    const wrong = failedOutcome(
      { source: SETTINGS.eventSource, event: decoded.event, attempts: 1, processedAt: new Date() },
      "dojo_rejected",
      "refused",
    );
    const stored = await ledgerB.settle(
      ref,
      { state: "failed", outcome: wrong, expected: { state: "submitting", attempts: 1 } },
      new Date(),
    );
    expect(stored.kind).toBe("settled");
    release.resolve();
    const outcome = published(await pending);

    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ refundId: dojo.made[0]?.refundId });
    // The outcome id is derived from the type: the correction does not reuse the failure's id.
    expect(outcome.id).not.toBe(wrong.id);
    expect(outcome.data.sourceEvent).toEqual(wrong.data.sourceEvent);
    expect(sinkA.published).toEqual([outcome]);
    expect(await ledgerA.get(ref)).toMatchObject({ refundId: dojo.made[0]?.refundId });
    const alert = lines.find((l) => l.alert === true && String(l.msg).includes("earlier answer was wrong"));
    expect(alert).toMatchObject({ eventId: e.id, previous: wrong.id });
  });
});
