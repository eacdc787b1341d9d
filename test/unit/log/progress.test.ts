// The periodic progress line: written when something settled or work is pending, quiet when idle, and
// LOG_PROGRESS_INTERVAL_MS (0 turns it off).
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { type LagReading, ProgressLog } from "../../../src/log-progress.ts";
import { createLogger } from "../../../src/logger.ts";

function recording() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { logger: createLogger({ level: "info", destination }), lines };
}

/** Counters a test moves by hand, and a clock. */
function world() {
  const state = { settled: 0, inFlight: 0, parked: 0, lag: undefined as LagReading | undefined, now: 0 };
  const sources = {
    settled: () => state.settled,
    inFlight: () => state.inFlight,
    parked: () => state.parked,
    lag: () => state.lag,
  };
  return { state, sources, now: () => state.now };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("ProgressLog", () => {
  it("says nothing while idle", () => {
    const { logger, lines } = recording();
    const w = world();
    const progress = new ProgressLog(logger, w.sources, { intervalMs: 30_000, now: w.now });
    w.state.now += 30_000;
    expect(progress.tick()).toBeUndefined();
    w.state.now += 30_000;
    progress.tick();
    expect(lines).toEqual([]);
  });

  it("reports processed since start, the rate over the interval, in flight, parked and lag", () => {
    const { logger, lines } = recording();
    const w = world();
    const progress = new ProgressLog(logger, w.sources, { intervalMs: 30_000, now: w.now });
    w.state.settled = 300;
    w.state.inFlight = 12;
    w.state.parked = 2;
    w.state.lag = { total: 340, partitions: 3 };
    w.state.now += 30_000;
    progress.tick();
    w.state.settled = 315;
    w.state.inFlight = 0;
    w.state.lag = { total: 0, partitions: 3 };
    w.state.now += 10_000;
    progress.tick();
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: "progress",
        processed: 300,
        ratePerS: 10,
        inFlight: 12,
        parked: 2,
        lag: 340,
      }),
      expect.objectContaining({
        msg: "progress",
        processed: 315,
        ratePerS: 1.5,
        inFlight: 0,
        parked: 2,
        lag: 0,
      }),
    ]);
    // Then idle again: nothing.
    w.state.now += 30_000;
    progress.tick();
    expect(lines).toHaveLength(2);
  });

  it("reports work in flight even when nothing settled (a stalled relay is not idle)", () => {
    const { logger, lines } = recording();
    const w = world();
    const progress = new ProgressLog(logger, w.sources, { intervalMs: 30_000, now: w.now });
    w.state.inFlight = 4;
    w.state.now += 30_000;
    progress.tick();
    expect(lines).toEqual([expect.objectContaining({ processed: 0, ratePerS: 0, inFlight: 4 })]);
  });

  it("counts lag as pending work only beyond one message per partition (a transaction marker)", () => {
    const { logger, lines } = recording();
    const w = world();
    const progress = new ProgressLog(logger, w.sources, { intervalMs: 30_000, now: w.now });
    w.state.lag = { total: 3, partitions: 3 };
    w.state.now += 30_000;
    progress.tick();
    expect(lines).toEqual([]);
    w.state.lag = { total: 50, partitions: 3 };
    w.state.now += 30_000;
    progress.tick();
    expect(lines).toEqual([expect.objectContaining({ lag: 50, processed: 0 })]);
  });

  it("leaves lag out when the transport has none", () => {
    const { logger, lines } = recording();
    const w = world();
    const { lag: _lag, ...withoutLag } = w.sources;
    const progress = new ProgressLog(logger, withoutLag, { intervalMs: 1_000, now: w.now });
    w.state.settled = 1;
    w.state.now += 1_000;
    progress.tick();
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toHaveProperty("lag");
  });

  it("ticks on its interval once started, and not after stop(); interval 0 never ticks", () => {
    vi.useFakeTimers();
    const { logger, lines } = recording();
    const w = world();
    const progress = new ProgressLog(logger, w.sources, { intervalMs: 30_000 });
    progress.start();
    w.state.settled = 5;
    vi.advanceTimersByTime(29_999);
    expect(lines).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(lines).toEqual([expect.objectContaining({ processed: 5, ratePerS: 0.2 })]);
    progress.stop();
    w.state.settled = 9;
    vi.advanceTimersByTime(120_000);
    expect(lines).toHaveLength(1);

    const off = new ProgressLog(logger, w.sources, { intervalMs: 0 });
    off.start();
    w.state.settled = 20;
    vi.advanceTimersByTime(120_000);
    expect(lines).toHaveLength(1);
  });
});

describe("LOG_PROGRESS_INTERVAL_MS", () => {
  const base = { KAFKA_BROKERS: "127.0.0.1:9092", DOJO_API_KEY: "sk_sandbox_progress_test" };

  it("defaults to 30 s, takes 0 (off), and refuses what is not a whole number of ms", () => {
    expect(loadConfig(base).logProgressIntervalMs).toBe(30_000);
    expect(loadConfig({ ...base, LOG_PROGRESS_INTERVAL_MS: "0" }).logProgressIntervalMs).toBe(0);
    expect(loadConfig({ ...base, LOG_PROGRESS_INTERVAL_MS: "5000" }).logProgressIntervalMs).toBe(5_000);
    expect(() => loadConfig({ ...base, LOG_PROGRESS_INTERVAL_MS: "soon" })).toThrow(
      /LOG_PROGRESS_INTERVAL_MS/,
    );
    expect(() => loadConfig({ ...base, LOG_PROGRESS_INTERVAL_MS: "-1" })).toThrow(/LOG_PROGRESS_INTERVAL_MS/);
  });
});
