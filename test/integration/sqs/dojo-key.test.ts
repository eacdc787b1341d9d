// A Dojo key that Dojo starts refusing while a relay on SQS runs (revoked, rotated badly) says nothing
// about any refund: the relay pauses its intake and keeps the events it holds until the key works
// again. Judged from outside the relay: nothing on the failed or dead-letter queues while the key is
// refused, events sent meanwhile left in the input queue, /readyz naming the refused key, and, once
// the key is restored, every event answered refund.succeeded once and refunded once at the simulator.
import { afterEach, describe, expect, inject, it } from "vitest";
import { returnApproved } from "../../support/events.ts";
import { SIM_KEY, SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";
import { freePort } from "../../support/tcp-proxy.ts";
import {
  allSucceeded,
  audit,
  CLEAN,
  falseAnswers,
  outputsCollected,
  recordsPerEvent,
} from "./outage-audit.ts";

const { sqsEndpoint } = inject("servers");

let h: SqsHarness | undefined;
afterEach(async () => {
  await h?.tearDown();
  h = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readyz(base: string): Promise<{ status: number; reasons: string[] }> {
  try {
    const res = await fetch(`${base}/readyz`);
    return { status: res.status, reasons: ((await res.json()) as { reasons: string[] }).reasons };
  } catch {
    return { status: 0, reasons: ["not listening yet"] };
  }
}

describe("relay over SQS (ElasticMQ): the Dojo key is revoked while it runs", () => {
  it("answers nothing and takes no new message while Dojo refuses the key, then refunds every event once", async () => {
    h = await new SqsHarness({ endpoint: sqsEndpoint }).setUp();
    const harness = h;
    const returnsOf = async (intents: number) =>
      (await harness.dojo.createIntents({ amount: 6000, status: "Captured" }, intents)).flatMap((pi) =>
        [1000, 2000, 3000].map((amount) => returnApproved({ paymentIntentId: pi, amount })),
      );
    const before = await returnsOf(10);
    const during = await returnsOf(4);
    const events = [...before, ...during];
    // Slow refunds and few at a time, so refunds are still to be made when the key is revoked.
    await harness.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 100, max: 200 } } } });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const relay = harness.spawnRelay({
      HTTP_PORT: String(port),
      HTTP_HOST: "127.0.0.1",
      MAX_IN_FLIGHT: "4",
      // Short long polls, so a poll already waiting at SQS when intake pauses ends within a second.
      SQS_WAIT_TIME_S: "1",
      LOG_LEVEL: "warn",
    });
    await expect.poll(async () => (await readyz(base)).status, { timeout: 20_000 }).toBe(200);

    await harness.send(before.map((e) => structuredMessage(e)));
    await expect
      .poll(async () => (await harness.dojo.stats()).refundsCreated, { timeout: 20_000, interval: 50 })
      .toBeGreaterThanOrEqual(5);
    await harness.dojo.revokeKey(SIM_KEY);
    // The relay met the revoked key (Dojo answered 401) and paused: /readyz says why.
    await expect
      .poll(async () => (await harness.dojo.stats()).responsesByOutcome["401"] ?? 0, { timeout: 20_000 })
      .toBeGreaterThan(0);
    await expect.poll(async () => (await readyz(base)).status, { timeout: 10_000, interval: 100 }).toBe(503);
    expect((await readyz(base)).reasons.join("; ")).toMatch(/Dojo rejects the API key/);

    // Long polls already at SQS when intake paused end within SQS_WAIT_TIME_S, refunds already at Dojo
    // within their latency; from then on nothing may move.
    await sleep(2_000);
    const refundsAtPause = (await harness.dojo.stats()).refundsCreated;
    expect(refundsAtPause).toBeLessThan(before.length);
    const waitingAtPause = (await harness.depth()).visible;
    await harness.send(during.map((e) => structuredMessage(e)));
    await sleep(4_000);
    const whileRevoked = {
      ...falseAnswers(harness),
      visibleInInputQueue: (await harness.depth()).visible,
      refundsCreated: (await harness.dojo.stats()).refundsCreated,
      relayRunning: relay.exitCode === null,
    };
    expect(whileRevoked).toEqual({
      failed: {},
      deadLetters: {},
      // Nothing was received while paused, the events sent meanwhile included: intake is closed.
      visibleInInputQueue: waitingAtPause + during.length,
      refundsCreated: refundsAtPause,
      relayRunning: true,
    });
    // Someone is told, with an alert naming the problem, never the key.
    const alert = relay
      .output()
      .split("\n")
      .find((line) => /"alert":\s*true/.test(line) && /dojo_credentials/.test(line));
    expect(alert, `no alert about the refused key in:\n${relay.output()}`).toBeDefined();
    expect(relay.output()).not.toContain(SIM_KEY);

    await harness.dojo.restoreKey(SIM_KEY);
    const done = await harness
      .waitFor(
        () => allSucceeded(harness, events),
        "a refund.succeeded for every event after the restore",
        30_000,
      )
      .then(
        () => true,
        () => false,
      );
    await expect.poll(async () => (await readyz(base)).status, { timeout: 10_000 }).toBe(200);
    relay.kill("SIGTERM");
    await outputsCollected(harness);
    expect(done).toBe(true);
    expect(await audit(harness, events)).toEqual(CLEAN);
    // One relay, never restarted, every message kept invisible by the heartbeat: one record per event.
    expect(recordsPerEvent(harness, events)).toEqual({ exactlyOne: events.length, none: 0, several: 0 });
    expect(await harness.depth()).toEqual({ visible: 0, inFlight: 0 });
  }, 60_000);
});
