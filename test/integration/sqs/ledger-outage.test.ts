// A PostgreSQL ledger that goes away under a relay on SQS says nothing about any refund. The relay's
// ledger is a private PostgreSQL server of this file's own, stopped (fast: open connections cut, their
// transactions rolled back) with refunds in flight and started again a few seconds later with its data.
// Judged from outside the relay: nothing failed or dead-lettered while the ledger is gone, /readyz
// naming the ledger; afterwards every event, those sent during the outage included, answered
// refund.succeeded with one outcome id and refunded once at the simulator, and the input queue empty.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { returnApproved } from "../../support/events.ts";
import { PrivatePostgres } from "../../support/postgres-server.ts";
import { SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";
import { freePort } from "../../support/tcp-proxy.ts";
import { allSucceeded, audit, CLEAN, falseAnswers, outputsCollected } from "./outage-audit.ts";

const { sqsEndpoint } = inject("servers");
const DOWN_MS = 5_000;

let server: PrivatePostgres | undefined;
let ledgerUrl = "";
beforeAll(async () => {
  server = await PrivatePostgres.create();
  ledgerUrl = await server.createDatabase("rr_sqs_outage");
});
afterAll(async () => {
  await server?.cleanup();
});

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

describe("relay over SQS (ElasticMQ) on a PostgreSQL ledger: the server stops mid-run", () => {
  it("answers nothing wrongly while the ledger is gone, and every event once after it is back", async () => {
    const pg = server as PrivatePostgres;
    h = await new SqsHarness({ endpoint: sqsEndpoint }).setUp();
    const harness = h;
    const returnsOf = async (intents: number) =>
      (await harness.dojo.createIntents({ amount: 6000, status: "Captured" }, intents)).flatMap((pi) =>
        [1000, 2000, 3000].map((amount) => returnApproved({ paymentIntentId: pi, amount })),
      );
    const before = await returnsOf(10);
    const during = await returnsOf(4);
    const events = [...before, ...during];
    // Slow refunds and few at a time, so some are at Dojo when the ledger goes: their refund exists
    // but cannot be recorded until the server is back.
    await harness.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 100, max: 200 } } } });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const relay = harness.spawnRelay({
      LEDGER_URL: ledgerUrl,
      HTTP_PORT: String(port),
      HTTP_HOST: "127.0.0.1",
      MAX_IN_FLIGHT: "4",
      SQS_WAIT_TIME_S: "1",
      LOG_LEVEL: "warn",
    });
    await expect.poll(async () => (await readyz(base)).status, { timeout: 20_000 }).toBe(200);

    await harness.send(before.map((e) => structuredMessage(e)));
    await expect
      .poll(async () => (await harness.dojo.stats()).refundsCreated, { timeout: 20_000, interval: 50 })
      .toBeGreaterThanOrEqual(5);
    await pg.stop({ mode: "fast" });
    const stoppedAt = Date.now();
    const refundsAtStop = (await harness.dojo.stats()).refundsCreated;
    await harness.send(during.map((e) => structuredMessage(e)));
    // The relay met the outage and paused: /readyz says why.
    await expect.poll(async () => (await readyz(base)).status, { timeout: 10_000, interval: 100 }).toBe(503);
    expect((await readyz(base)).reasons.join("; ")).toMatch(/ledger/);
    await sleep(Math.max(0, DOWN_MS - (Date.now() - stoppedAt)));
    const whileDown = {
      ...falseAnswers(harness),
      everyEventAnswered: allSucceeded(harness, events),
      relayRunning: relay.exitCode === null,
    };
    expect(whileDown).toEqual({ failed: {}, deadLetters: {}, everyEventAnswered: false, relayRunning: true });
    expect(refundsAtStop).toBeLessThan(before.length);
    // Someone is told: the fault gate's alert names the ledger.
    const alert = relay
      .output()
      .split("\n")
      .find((line) => /"alert":\s*true/.test(line) && /"fault":"ledger"/.test(line));
    expect(alert, `no alert about the ledger in:\n${relay.output()}`).toBeDefined();

    await pg.start();
    const done = await harness
      .waitFor(
        () => allSucceeded(harness, events),
        "a refund.succeeded for every event after the restart",
        30_000,
      )
      .then(
        () => true,
        () => false,
      );
    await expect.poll(async () => (await readyz(base)).status, { timeout: 10_000 }).toBe(200);
    relay.kill("SIGTERM");
    await outputsCollected(harness);
    expect(done, relay.output()).toBe(true);
    expect(await audit(harness, events)).toEqual(CLEAN);
    expect(await harness.depth()).toEqual({ visible: 0, inFlight: 0 });
  }, 60_000);
});
