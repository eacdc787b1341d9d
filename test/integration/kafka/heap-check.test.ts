// A relay whose settings let it hold more events than its heap is sized for says so when it gets its
// partitions, with the numbers and what to change, instead of aborting out of memory later under a
// backlog. One with the default settings and heap says nothing.
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { heapNeededMiB } from "../../../src/heap-limits.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");

const WARNING = /this instance may hold/;

describe("relay process: heap against settings", () => {
  let h: KafkaHarness;
  beforeAll(async () => {
    h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 3 }).setUp();
  });
  afterAll(async () => {
    await h?.tearDown();
  });

  async function assignedOutput(env: Record<string, string>): Promise<string> {
    const relay = h.spawnRelay({ LOG_LEVEL: "info", ...env });
    await expect
      .poll(() => /partitions assigned/.test(relay.output()), { timeout: 30_000, interval: 100 })
      .toBe(true);
    relay.kill("SIGTERM");
    await once(relay, "exit");
    return relay.output();
  }

  it("warns with the numbers when the partitions times the per-partition limit need more heap", async () => {
    const output = await assignedOutput({
      NODE_OPTIONS: "--max-old-space-size=96",
      KAFKA_MAX_IN_FLIGHT_PER_PARTITION: "20000",
    });
    const line = output.split("\n").find((l) => WARNING.test(l));
    expect(line, output).toBeDefined();
    const logged = JSON.parse(line as string) as Record<string, unknown>;
    expect(logged).toMatchObject({
      level: 40,
      partitions: 3,
      eventsHeld: 60_000,
      heapNeededMiB: heapNeededMiB(60_000),
    });
    expect(logged.heapLimitMiB).toBeLessThan(heapNeededMiB(60_000));
    expect(logged.msg).toContain("KAFKA_MAX_IN_FLIGHT_PER_PARTITION");
    expect(logged.msg).toContain(`--max-old-space-size=${heapNeededMiB(60_000)}`);
  });

  it("says nothing with the default settings and heap limits", async () => {
    const output = await assignedOutput({});
    expect(output).toMatch(/partitions assigned/);
    expect(output).not.toMatch(WARNING);
  });
});
