// A Dojo key that does not work says nothing about any refund. At start the relay checks every
// configured key with a harmless read and refuses to run (exit 2, nothing consumed); at run time a key
// that Dojo starts refusing (revoked, rotated) pauses the relay until the key works again, and no event
// is answered refund.failed or dead-lettered because of it.
import { afterEach, describe, expect, inject, it } from "vitest";
import { keyFingerprint } from "../../../src/dojo/accounts.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import {
  auditRefunds,
  CLEAN_AUDIT,
  catchUpCollector,
  countBy,
  exitWithin,
  outcomeRecordsPerEvent,
  type ReturnApproved,
  waitUntil,
} from "../../support/fleet.ts";
import { KafkaHarness, SIM_KEY } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");

/** Well-formed keys the simulator was not started with. */
const UNKNOWN_KEY = "sk_sandbox_unknown_to_dojo_7f3a9c";
const UNKNOWN_MERCHANT_KEY = "sk_prod_unknown_merchant_key_51d0";

let h: KafkaHarness | undefined;
afterEach(async () => {
  await h?.tearDown();
  h = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function partialReturns(harness: KafkaHarness, intents: number, merchantId?: string) {
  const ids = await harness.dojo.createIntents({ amount: 6000, status: "Captured" }, intents);
  return ids.flatMap((pi) =>
    [1000, 2000, 3000].map((amount) =>
      returnApproved({ paymentIntentId: pi, amount, ...(merchantId === undefined ? {} : { merchantId }) }),
    ),
  );
}

/** A line of the relay's output that names a Dojo authentication problem. */
function authProblemLine(output: string): string | undefined {
  return output
    .split("\n")
    .find(
      (line) =>
        /dojo/i.test(line) &&
        /\b(401|403|unauthori[sz]ed|forbidden|not valid|invalid|rejected|revoked|refused)\b/i.test(line),
    );
}

/**
 * Starts a relay with a key configuration Dojo refuses, over events already waiting, and returns what it
 * did: how it exited, and whether it touched the events (outcomes, dead letters, commits, refunds).
 */
async function startRefused(
  harness: KafkaHarness,
  events: readonly ReturnApproved[],
  env: Record<string, string>,
) {
  await harness.produce(events.map(structuredRecord));
  const child = harness.spawnRelay({ LOG_LEVEL: "info", ...env });
  // A few seconds: starting Node and one read per key; more means it went on to consume.
  const exit = await exitWithin(child, 10_000);
  if (exit === "still running") {
    child.kill("SIGKILL");
    await exitWithin(child, 5_000);
  }
  await catchUpCollector(harness, kafkaBrokers);
  const stats = await harness.dojo.stats();
  return {
    output: child.output(),
    observed: {
      exit,
      outcomes: harness.outcomes().length,
      deadLetters: harness.deadLetters().length,
      committedOffsets: await harness.committedTotal(),
      refundRequests: stats.requestsByRoute.createRefund ?? 0,
    },
  };
}

/** A relay with the right key answers every waiting event: the refused start consumed nothing. */
async function answeredByCorrectRelay(harness: KafkaHarness, events: readonly ReturnApproved[], env = {}) {
  const relay = harness.spawnRelay(env);
  const done = await waitUntil(
    harness,
    () => events.every((e) => harness.outcomesOf(e.id).some((o) => o.json?.type === "refund.succeeded")),
    "a refund.succeeded for every waiting event",
    30_000,
  );
  relay.kill("SIGTERM");
  await exitWithin(relay, 15_000);
  await catchUpCollector(harness, kafkaBrokers);
  return { done, report: await auditRefunds(harness, harness.dojo, events) };
}

describe("Dojo key checked at start", () => {
  it("exits 2 with a clear message and consumes nothing when the key is not valid at Dojo", async () => {
    h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 2 }).setUp();
    const events = await partialReturns(h, 4);

    const { output, observed } = await startRefused(h, events, { DOJO_API_KEY: UNKNOWN_KEY });
    expect(observed).toEqual({
      exit: 2,
      outcomes: 0,
      deadLetters: 0,
      committedOffsets: 0,
      refundRequests: 0,
    });
    expect(authProblemLine(output), `no line names the Dojo key problem in:\n${output}`).toBeDefined();
    expect(output).not.toContain(UNKNOWN_KEY);

    const { done, report } = await answeredByCorrectRelay(h, events);
    expect(done).toBe(true);
    expect(report.audit).toEqual(CLEAN_AUDIT);
  }, 90_000);

  it("checks every configured account, not only the default one", async () => {
    h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 2 }).setUp();
    const events = await partialReturns(h, 3);
    const accounts = (merchantKey: string) =>
      JSON.stringify({ default: SIM_KEY, merchants: { "m-bad-key": merchantKey } });

    const { output, observed } = await startRefused(h, events, {
      DOJO_API_KEY: "",
      DOJO_ACCOUNTS_JSON: accounts(UNKNOWN_MERCHANT_KEY),
    });
    expect(observed).toEqual({
      exit: 2,
      outcomes: 0,
      deadLetters: 0,
      committedOffsets: 0,
      refundRequests: 0,
    });
    const line = authProblemLine(output);
    expect(line, `no line names the Dojo key problem in:\n${output}`).toBeDefined();
    // Which key: by merchant or by fingerprint, never by value.
    expect(line).toMatch(new RegExp(`m-bad-key|${keyFingerprint(UNKNOWN_MERCHANT_KEY)}`));
    expect(output).not.toContain(UNKNOWN_MERCHANT_KEY);
    expect(output).not.toContain(SIM_KEY);

    const { done, report } = await answeredByCorrectRelay(h, events, {
      DOJO_API_KEY: "",
      DOJO_ACCOUNTS_JSON: accounts(SIM_KEY),
    });
    expect(done).toBe(true);
    expect(report.audit).toEqual(CLEAN_AUDIT);
  }, 90_000);
});

describe("Dojo key revoked while the relay runs", () => {
  it("answers nothing while Dojo refuses the key, then refunds every event exactly once when it works again", async () => {
    h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 4 }).setUp();
    const harness = h;
    const before = await partialReturns(harness, 20);
    const during = await partialReturns(harness, 10);
    const events = [...before, ...during];
    await harness.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 50, max: 100 } } } });
    const relay = harness.spawnRelay({ MAX_IN_FLIGHT: "4", LOG_LEVEL: "warn" });

    await harness.produce(before.map(structuredRecord));
    await harness.waitFor(() => harness.outcomes().length >= 5, "the first refunds", 40_000);
    await harness.dojo.revokeKey(SIM_KEY);
    const answeredAtRevocation = harness.outcomes().length;
    await harness.produce(during.map(structuredRecord));
    // The relay met the revoked key (Dojo answered 401), and then had several seconds to misbehave.
    await expect
      .poll(async () => (await harness.dojo.stats()).responsesByOutcome["401"] ?? 0, { timeout: 20_000 })
      .toBeGreaterThan(0);
    await sleep(5_000);
    const whileRevoked = {
      failed: countBy(harness.outcomes("refund.failed"), (o) => String(o.json?.data.code)),
      deadLetters: countBy(harness.deadLetters(), (d) => d.headers["rr-error-code"] ?? "?"),
    };
    expect(answeredAtRevocation).toBeLessThan(before.length);
    expect(whileRevoked).toEqual({ failed: {}, deadLetters: {} });
    // Someone is told: an alert that names the Dojo key problem (never the key).
    const alert = relay
      .output()
      .split("\n")
      .find((line) => /"alert":\s*true/.test(line) && authProblemLine(line) !== undefined);
    expect(alert, `no alert about the refused key in:\n${relay.output()}`).toBeDefined();
    expect(relay.output()).not.toContain(SIM_KEY);

    await harness.dojo.restoreKey(SIM_KEY);
    const done = await waitUntil(
      harness,
      () => events.every((e) => harness.outcomesOf(e.id).some((o) => o.json?.type === "refund.succeeded")),
      "a refund.succeeded for every event after the key was restored",
      40_000,
    );
    relay.kill("SIGTERM");
    await exitWithin(relay, 15_000);
    await catchUpCollector(harness, kafkaBrokers);
    const report = await auditRefunds(harness, harness.dojo, events);
    expect(done).toBe(true);
    expect(report.audit).toEqual(CLEAN_AUDIT);
    // One relay that never restarted: one refund.succeeded record per event, not merely one id.
    expect(outcomeRecordsPerEvent(harness, events)).toEqual({
      exactlyOne: events.length,
      none: 0,
      several: 0,
    });
  }, 90_000);
});
