// The SQS endpoint going away under a running relay says nothing about any refund. The relay process
// reaches ElasticMQ only through a TCP proxy; stopping the proxy cuts its long polls, outcome sends,
// deletes and visibility extensions at once and refuses new connections, while the test itself still
// sends events and collects outcomes directly. While SQS is gone the relay must stay up, answer
// nothing wrongly and report itself not ready; once SQS is back it must receive again by itself (the
// events sent meanwhile can only reach it that way), answer every event with one outcome id, refund
// each once, and leave nothing in the input queue.
//
// Twice: an outage shorter than the visibility timeout (20 s), so the heartbeat's failed extensions
// cost no lease; and one longer than it (4 s), so every message held loses its lease while SQS is
// gone and nothing the relay holds is left to find out that SQS came back: the relay must then resume
// receiving by itself all the same. A long poll cut by the proxy may still be waiting at ElasticMQ and take a message for
// a client that is gone: the events of the outage are sent once such polls have ended (SQS_WAIT_TIME_S
// is 1 s), and a message a cut poll did take comes back when its visibility runs out.
import { afterEach, describe, expect, inject, it } from "vitest";
import { SQS_RECEIVE_FAILURE_GRACE_MS } from "../../../src/cli/relay-app.ts";
import { returnApproved } from "../../support/events.ts";
import { SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";
import { freePort, TcpProxy } from "../../support/tcp-proxy.ts";
import { allSucceeded, audit, CLEAN, falseAnswers, outputsCollected } from "./outage-audit.ts";

const { sqsEndpoint } = inject("servers");

let h: SqsHarness | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.stop();
  await h?.tearDown();
  h = undefined;
  proxy = undefined;
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

describe("relay over SQS (ElasticMQ): the SQS endpoint goes away mid-run", () => {
  it("stays up, answers nothing wrongly and is not ready while SQS is gone, then answers every event once", async () => {
    await outage({ visibilityS: 20, downMs: 5_000 });
  }, 90_000);

  it("resumes by itself after an outage longer than the visibility timeout, which took every lease", async () => {
    await outage({ visibilityS: 4, downMs: 9_000 });
  }, 90_000);
});

async function outage({ visibilityS, downMs }: { visibilityS: number; downMs: number }): Promise<void> {
  {
    h = await new SqsHarness({ endpoint: sqsEndpoint }).setUp();
    const harness = h;
    proxy = await new TcpProxy(new URL(sqsEndpoint).host).start();
    const sqsProxy = proxy;
    const returnsOf = async (intents: number) =>
      (await harness.dojo.createIntents({ amount: 6000, status: "Captured" }, intents)).flatMap((pi) =>
        [1000, 2000, 3000].map((amount) => returnApproved({ paymentIntentId: pi, amount })),
      );
    const before = await returnsOf(10);
    const during = await returnsOf(4);
    const events = [...before, ...during];
    // Slow refunds and few at a time, so work is in hand when SQS goes away.
    await harness.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 100, max: 200 } } } });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const relay = harness.spawnRelay({
      // Every SQS call of the relay goes to the endpoint, whatever host the queue URLs name.
      SQS_ENDPOINT: `http://127.0.0.1:${sqsProxy.port}`,
      HTTP_PORT: String(port),
      HTTP_HOST: "127.0.0.1",
      MAX_IN_FLIGHT: "4",
      SQS_WAIT_TIME_S: "1",
      SQS_VISIBILITY_TIMEOUT_S: String(visibilityS),
      LOG_LEVEL: "warn",
    });
    await expect.poll(async () => (await readyz(base)).status, { timeout: 20_000 }).toBe(200);

    await harness.send(before.map((e) => structuredMessage(e)));
    await expect
      .poll(async () => (await harness.dojo.stats()).refundsCreated, { timeout: 20_000, interval: 50 })
      .toBeGreaterThanOrEqual(5);
    await sqsProxy.stop();
    const stoppedAt = Date.now();
    const refundsAtStop = (await harness.dojo.stats()).refundsCreated;
    await sleep(1_500);
    await harness.send(during.map((e) => structuredMessage(e)));
    // Not ready while SQS is gone: at once when outcomes cannot be sent, else when the depth poll fails.
    await expect.poll(async () => (await readyz(base)).status, { timeout: 25_000, interval: 100 }).toBe(503);
    expect((await readyz(base)).reasons.join("; ")).toMatch(
      /SQS did not answer|cannot be published|receiving from .* failed/,
    );
    await sleep(Math.max(0, downMs - (Date.now() - stoppedAt)));
    // Also after the leases ran out, when the relay holds nothing and the publish fault was cleared
    // so that the next message tests SQS again: its receives fail, and once they have failed for
    // the grace period that counts. SQS stays away until then.
    let stillNotReady = (await readyz(base)).status;
    const notReadyBy = Date.now() + SQS_RECEIVE_FAILURE_GRACE_MS + 8_000;
    while (stillNotReady !== 503 && Date.now() < notReadyBy) {
      await sleep(200);
      stillNotReady = (await readyz(base)).status;
    }
    const whileDown = {
      ...falseAnswers(harness),
      everyEventAnswered: allSucceeded(harness, events),
      relayRunning: relay.exitCode === null,
      stillNotReady,
    };
    expect(whileDown).toEqual({
      failed: {},
      deadLetters: {},
      everyEventAnswered: false,
      relayRunning: true,
      stillNotReady: 503,
    });
    expect(refundsAtStop).toBeLessThan(before.length);

    await sqsProxy.start();
    const done = await harness
      .waitFor(
        () => allSucceeded(harness, events),
        "a refund.succeeded for every event after SQS came back",
        40_000,
      )
      .then(
        () => true,
        () => false,
      );
    // Ready again by itself (the depth poll runs every 15 s).
    await expect.poll(async () => (await readyz(base)).status, { timeout: 25_000, interval: 250 }).toBe(200);
    expect(relay.exitCode).toBeNull();
    relay.kill("SIGTERM");
    await outputsCollected(harness);
    expect(done, relay.output()).toBe(true);
    expect(await audit(harness, events)).toEqual(CLEAN);
    // Nothing the relay received is left behind: each message was deleted once answered.
    await expect.poll(() => harness.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });
  }
}
