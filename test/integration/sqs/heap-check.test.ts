// A relay over SQS whose MAX_IN_FLIGHT lets it hold more events than its heap is sized for says so
// at start, with the numbers and what to change.
import { once } from "node:events";
import { afterEach, describe, expect, inject, it } from "vitest";
import { heapNeededMiB } from "../../../src/heap-limits.ts";
import { SqsHarness } from "../../support/sqs-harness.ts";

const { sqsEndpoint } = inject("servers");

let h: SqsHarness | undefined;
afterEach(async () => {
  await h?.tearDown();
  h = undefined;
});

describe("relay over SQS (ElasticMQ): heap against settings", () => {
  it("warns at start when MAX_IN_FLIGHT and the receives need more heap than it has", async () => {
    h = await new SqsHarness({ endpoint: sqsEndpoint }).setUp();
    const relay = h.spawnRelay({
      NODE_OPTIONS: "--max-old-space-size=96",
      MAX_IN_FLIGHT: "50000",
      SQS_RECEIVE_CONCURRENCY: "4",
      LOG_LEVEL: "warn",
    });
    const held = 50_000 + 4 * 10;
    await expect
      .poll(() => /this instance may hold/.test(relay.output()), { timeout: 30_000, interval: 100 })
      .toBe(true);
    relay.kill("SIGTERM");
    await once(relay, "exit");
    const line = relay
      .output()
      .split("\n")
      .find((l) => /this instance may hold/.test(l)) as string;
    const logged = JSON.parse(line) as Record<string, unknown>;
    expect(logged).toMatchObject({ level: 40, eventsHeld: held, heapNeededMiB: heapNeededMiB(held) });
    expect(logged.heapLimitMiB).toBeLessThan(heapNeededMiB(held));
    expect(logged.msg).toContain("lower MAX_IN_FLIGHT");
  });
});
