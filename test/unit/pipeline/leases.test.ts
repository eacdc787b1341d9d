// Instances sharing one ledger work on a payment intent's events only under the intent's lease: one
// instance at a time, another takes over only once the lease expired, and a holder whose lease was
// taken over has its late writes refused (it takes the lease again before it goes on).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DojoClient } from "../../../src/dojo/index.ts";
import { type Ledger, SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  capturedIntent,
  DojoSim,
  deferred,
  event,
  FakeSink,
  fail,
  message,
  published,
  SETTINGS,
  until,
} from "./fakes.ts";

const PI = "pi_leased";

let dir: string;
let ledgerA: SqliteLedger;
let ledgerB: SqliteLedger;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "refund-relay-leases-"));
  const path = join(dir, "ledger.db");
  ledgerA = new SqliteLedger({ path });
  ledgerB = new SqliteLedger({ path });
});

afterEach(async () => {
  await ledgerA.close();
  await ledgerB.close();
  rmSync(dir, { recursive: true, force: true });
});

type DojoPort = Pick<DojoClient, "createRefund" | "createReversal" | "getPaymentIntent">;

function instance(owner: string, ledger: Ledger, dojo: DojoPort, sink = new FakeSink(), ttlMs = 30_000) {
  const pipeline = new RefundPipeline(
    { ...SETTINGS, lease: { owner, ttlMs } },
    { ledger, dojo, sink, logger: silentLogger, random: () => 0 },
  );
  return { pipeline, sink };
}

describe("leases on payment intents across instances", () => {
  it("gives the same event, arriving at two instances at the same moment, one Dojo refund", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5000));
    const held = deferred();
    const refund = dojo.onRefund;
    dojo.onRefund = async (input) => {
      await held.promise;
      return refund(input);
    };
    const a = instance("relay-a", ledgerA, dojo);
    const b = instance("relay-b", ledgerB, dojo);
    const e = event({ paymentIntentId: PI, amount: 1200 });

    const first = a.pipeline.process(message(e));
    const second = b.pipeline.process(message(e));
    await until(() => dojo.refunds().length === 1, "one instance called Dojo");
    // The other instance waits for the lease instead of calling Dojo too.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dojo.refunds()).toHaveLength(1);
    held.resolve();

    const [one, two] = await Promise.all([first, second]);
    expect(published(one).type).toBe("refund.succeeded");
    expect(published(two).id).toBe(published(one).id);
    expect(dojo.refunds()).toHaveLength(1);
    expect(dojo.made).toHaveLength(1);
  });

  it("waits for a lease a dead instance left behind until it expires, then refunds once", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5000));
    const claimed = await ledgerA.claimIntent(PI, "relay-dead", 300, new Date());
    expect(claimed.ok).toBe(true);
    const b = instance("relay-b", ledgerB, dojo);
    const started = Date.now();
    const outcome = published(await b.pipeline.process(message(event({ paymentIntentId: PI, amount: 700 }))));

    expect(outcome.type).toBe("refund.succeeded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(dojo.made).toHaveLength(1);
  });

  it("refuses the late writes of an instance whose lease was taken over; it takes the lease again and answers from the ledger", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5000));
    const e = event({ paymentIntentId: PI, amount: 900 });
    // A's renewals never reach the ledger, so its short lease runs out during its Dojo call.
    const noRenewals: Ledger = {
      begin: (...a) => ledgerA.begin(...a),
      markSubmitting: (...a) => ledgerA.markSubmitting(...a),
      markUnknown: (...a) => ledgerA.markUnknown(...a),
      settle: (...a) => ledgerA.settle(...a),
      markPublished: (...a) => ledgerA.markPublished(...a),
      markParked: (...a) => ledgerA.markParked(...a),
      get: (...a) => ledgerA.get(...a),
      listParked: (...a) => ledgerA.listParked(...a),
      settleByHand: (...a) => ledgerA.settleByHand(...a),
      audit: (...a) => ledgerA.audit(...a),
      claimIntent: (...a) => ledgerA.claimIntent(...a),
      renewIntents: async () => [],
      releaseIntent: (...a) => ledgerA.releaseIntent(...a),
      close: () => ledgerA.close(),
    };
    const aAnswer = deferred();
    let aCalls = 0;
    const viewA: DojoPort = {
      getPaymentIntent: dojo.getPaymentIntent,
      createReversal: dojo.createReversal,
      createRefund: async (input) => {
        aCalls += 1;
        if (aCalls === 1) {
          await aAnswer.promise;
          return fail("server_error", "Dojo answered HTTP 503 (no refund made)", 503);
        }
        return dojo.createRefund(input);
      },
    };
    const a = instance("relay-a", noRenewals, viewA, new FakeSink(), 150);
    const b = instance("relay-b", ledgerB, dojo, new FakeSink(), 150);

    const first = a.pipeline.process(message(e));
    await until(() => aCalls === 1, "A's refund is at Dojo");
    await new Promise((resolve) => setTimeout(resolve, 200));
    // A's lease expired: B takes the intent over and settles the event with the key.
    const second = published(await b.pipeline.process(message(e)));
    expect(second.type).toBe("refund.succeeded");

    // A's call now ends without an answer; its write is refused, and it answers from the ledger.
    aAnswer.resolve();
    const late = published(await first);
    expect(late.id).toBe(second.id);
    expect(late.type).toBe("refund.succeeded");
    expect(dojo.made).toHaveLength(1);
    expect(aCalls).toBe(1);
  });
});
