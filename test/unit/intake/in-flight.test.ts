// The drain's wait: resolves once nothing is in flight, or false at the deadline.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InFlight } from "../../../src/intake/index.ts";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("InFlight", () => {
  it("is idle at once when nothing is in flight", async () => {
    await expect(new InFlight().idle(0)).resolves.toBe(true);
  });

  it("wakes every waiter when the last one is done, and not before", async () => {
    const inFlight = new InFlight();
    inFlight.add();
    inFlight.add();
    const results: boolean[] = [];
    void inFlight.idle(1_000).then((r) => results.push(r));
    void inFlight.idle(1_000).then((r) => results.push(r));
    inFlight.done();
    await vi.advanceTimersByTimeAsync(0);
    expect(results).toEqual([]);
    inFlight.done();
    await vi.advanceTimersByTimeAsync(0);
    expect(results).toEqual([true, true]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves false at the deadline and forgets the waiter", async () => {
    const inFlight = new InFlight();
    inFlight.add();
    const result = inFlight.idle(50);
    await vi.advanceTimersByTimeAsync(50);
    await expect(result).resolves.toBe(false);
    await expect(inFlight.idle(0)).resolves.toBe(false);
    inFlight.done();
    expect(inFlight.count).toBe(0);
  });
});
