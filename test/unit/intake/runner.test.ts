// The intake runner against an in-memory source: what it holds back for backpressure, what it pauses
// for the intake gate, how it drains to a deadline, what it counts, and how each result is answered.
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { IntakeRunner, type MessageProcessor } from "../../../src/intake/index.ts";
import { createLogger, type Logger } from "../../../src/logger.ts";
import type {
  DeliveryContext,
  IntakeGate,
  MessageResult,
  OutcomeEvent,
} from "../../../src/pipeline/index.ts";
import { MemoryLane, MemorySource } from "./memory-source.ts";

const PUBLISHED: MessageResult = { status: "published", outcome: {} as OutcomeEvent, replayed: false };
const DEAD_LETTERED: MessageResult = {
  status: "dead-lettered",
  reason: { code: "unparseable", message: "no", attempts: 0, firstSeenAt: new Date(0) },
};
const ABANDONED: MessageResult = { status: "abandoned", reason: "stopped" };

class TestGate implements IntakeGate {
  #paused = false;
  readonly #listeners = new Set<(paused: boolean) => void>();
  get paused(): boolean {
    return this.#paused;
  }
  set(paused: boolean): void {
    this.#paused = paused;
    for (const listener of this.#listeners) listener(paused);
  }
  subscribe(listener: (paused: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  get listeners(): number {
    return this.#listeners.size;
  }
}

/** A processor whose results the test gives, per message id; it keeps each delivery's context. */
function heldProcessor() {
  const waiting = new Map<string, { resolve: (r: MessageResult) => void; reject: (e: unknown) => void }>();
  const contexts = new Map<string, DeliveryContext>();
  const processor: MessageProcessor = {
    process(message, ctx) {
      const id = String(message.body);
      contexts.set(id, ctx);
      return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
    },
  };
  const answer = (result: MessageResult, ...ids: string[]) => {
    for (const id of ids) {
      const w = waiting.get(id);
      if (w === undefined) throw new Error(`${id} is not in flight`);
      waiting.delete(id);
      w.resolve(result);
    }
  };
  const fail = (error: unknown, id: string) => {
    waiting.get(id)?.reject(error);
    waiting.delete(id);
  };
  return { processor, contexts, answer, fail, waiting };
}

function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

/** Lets promise callbacks run. */
const flush = () => vi.advanceTimersByTimeAsync(0);

let source: MemorySource;
let gate: TestGate;
let held: ReturnType<typeof heldProcessor>;
let log: ReturnType<typeof recordingLogger>;
let runner: IntakeRunner<MemoryLane>;
const a = new MemoryLane("a");
const b = new MemoryLane("b");

async function start(maxInFlightPerLane = 4): Promise<void> {
  runner = new IntakeRunner(source, {
    maxInFlightPerLane,
    gate,
    logger: log.logger,
    logFields: { queue: "q" },
  });
  await runner.start(held.processor);
}

beforeEach(() => {
  vi.useFakeTimers();
  source = new MemorySource();
  gate = new TestGate();
  held = heldProcessor();
  log = recordingLogger();
  a.pending = 0;
  b.pending = 0;
  a.fenced = false;
});

afterEach(() => {
  vi.useRealTimers();
});

describe("IntakeRunner: ack or release per result", () => {
  it("acks published and dead-lettered deliveries, releases abandoned ones and failures", async () => {
    await start();
    const [d1, d2, d3, d4] = source.batch(a, "1", "2", "3", "4");
    held.answer(PUBLISHED, "1");
    held.answer(DEAD_LETTERED, "2");
    held.answer(ABANDONED, "3");
    const bug = new Error("bug");
    held.fail(bug, "4");
    await flush();
    expect([d1, d2, d3, d4].map((d) => d?.answer)).toEqual(["ack", "ack", "release", { failed: bug }]);
  });

  it("releases a delivery whose processor throws instead of returning a promise", async () => {
    const bug = new Error("thrown");
    runner = new IntakeRunner(source, { maxInFlightPerLane: 4, logger: log.logger });
    await runner.start({
      process() {
        throw bug;
      },
    });
    const [d] = source.batch(a, "1");
    await flush();
    expect(d?.answer).toEqual({ failed: bug });
    expect(runner.stats.inFlight).toBe(0);
  });

  it("hands each delivery the stop and abort signals and its own fencing", async () => {
    await start();
    source.batch(a, "1");
    source.batch(b, "2");
    const ctx = held.contexts.get("1");
    expect(ctx?.stop?.aborted).toBe(false);
    expect(ctx?.abort?.aborted).toBe(false);
    a.fenced = true;
    expect(ctx?.fenced?.()).toBe(true);
    expect(held.contexts.get("2")?.fenced?.()).toBe(false);
  });

  it("refuses deliveries before it was started", () => {
    runner = new IntakeRunner(source, { maxInFlightPerLane: 4, logger: log.logger });
    expect(() => runner.take({} as never)).toThrow(/not started/);
  });
});

describe("IntakeRunner: stats", () => {
  it("counts what is in flight, settled and dead-lettered, and when progress was last made", async () => {
    await start();
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    source.batch(a, "1", "2", "3");
    expect(runner.stats).toEqual({ inFlight: 3, settled: 0, deadLettered: 0, lastProgressAt: undefined });
    held.answer(PUBLISHED, "1");
    held.answer(DEAD_LETTERED, "2");
    await flush();
    expect(runner.stats).toEqual({
      inFlight: 1,
      settled: 2,
      deadLettered: 1,
      lastProgressAt: new Date("2030-01-01T00:00:00Z"),
    });
    // Abandoned is no progress.
    held.answer(ABANDONED, "3");
    await flush();
    expect(runner.stats).toMatchObject({ inFlight: 0, settled: 2, deadLettered: 1 });
  });
});

describe("IntakeRunner: backpressure", () => {
  it("holds a lane back at the limit and lets it go at half of it, leaving other lanes alone", async () => {
    await start(4);
    source.batch(a, "a1", "a2", "a3");
    expect(source.calls).toEqual([]);
    source.batch(a, "a4");
    source.batch(b, "b1");
    expect(source.fetching(a)).toBe(false);
    expect(source.fetching(b)).toBe(true);
    expect(source.calls).toEqual(["resume -a"]);
    held.answer(PUBLISHED, "a1");
    await flush();
    expect(source.fetching(a)).toBe(false);
    held.answer(PUBLISHED, "a2");
    await flush();
    expect(source.fetching(a)).toBe(true);
    expect(source.calls).toEqual(["resume -a", "resume"]);
  });

  it("hands a whole batch over even past the limit, then holds the lane back", async () => {
    await start(2);
    expect(source.batch(a, "1", "2", "3", "4", "5")).toHaveLength(5);
    expect(source.fetching(a)).toBe(false);
  });

  it("counts what the source still holds for the lane, not only what is in the pipeline", async () => {
    await start(2);
    source.batch(a, "1", "2");
    // The source keeps a settled delivery pending (a Kafka offset behind one still in progress).
    a.pending += 1;
    held.answer(PUBLISHED, "2");
    await flush();
    expect(source.fetching(a)).toBe(false);
    a.pending -= 1;
    held.answer(PUBLISHED, "1");
    await flush();
    expect(source.fetching(a)).toBe(true);
  });

  it("forgets a lane that is gone", async () => {
    await start(1);
    source.batch(a, "1");
    source.batch(b, "2");
    expect(source.heldBack).toEqual(new Set([a, b]));
    runner.forget(a);
    runner.repause();
    expect(source.heldBack).toEqual(new Set([b]));
  });
});

describe("IntakeRunner: intake gate", () => {
  it("pauses the source while the gate is closed and resumes all but the lanes held back", async () => {
    await start(2);
    source.batch(a, "a1", "a2");
    gate.set(true);
    expect(source.paused).toBe(true);
    expect(runner.accepting).toBe(false);
    // Work in flight continues; settling it resumes nothing while the gate is closed.
    held.answer(PUBLISHED, "a1", "a2");
    await flush();
    expect(source.paused).toBe(true);
    gate.set(false);
    expect(source.paused).toBe(false);
    expect(runner.accepting).toBe(true);
    expect(source.heldBack).toEqual(new Set());
  });

  it("keeps a lane held back for backpressure held back when the gate opens", async () => {
    await start(2);
    source.batch(b, "b1", "b2");
    gate.set(true);
    gate.set(false);
    expect(source.fetching(a)).toBe(true);
    expect(source.fetching(b)).toBe(false);
  });

  it("stops a batch where the gate closes; the rest is not taken", async () => {
    runner = new IntakeRunner(source, { maxInFlightPerLane: 100, gate, logger: log.logger });
    await runner.start({
      process(message, ctx) {
        if (message.body === "2") gate.set(true);
        return held.processor.process(message, ctx);
      },
    });
    expect(source.batch(a, "1", "2", "3", "4").map((d) => d.id)).toEqual(["1", "2"]);
    expect(source.paused).toBe(true);
  });

  it("says when intake pauses and resumes, and when it starts paused", async () => {
    gate.set(true);
    await start();
    gate.set(false);
    gate.set(true);
    expect(log.lines.map((l) => [l.msg, l.queue])).toEqual([
      ["intake paused from the start: a fault is active", "q"],
      ["intake resumed: the fault cleared", "q"],
      ["intake paused: a fault of the relay's own world is active; work in flight continues", "q"],
    ]);
  });

  it("stops following the gate when it stops, or when the source fails to open", async () => {
    await start();
    expect(gate.listeners).toBe(1);
    await runner.stop(10);
    expect(gate.listeners).toBe(0);

    const failing = new MemorySource();
    failing.open = () => Promise.reject(new Error("no broker"));
    const other = new IntakeRunner(failing, { maxInFlightPerLane: 4, gate, logger: log.logger });
    await expect(other.start(held.processor)).rejects.toThrow("no broker");
    expect(gate.listeners).toBe(0);
  });
});

describe("IntakeRunner: halt", () => {
  it("pauses the source for good and takes nothing more", async () => {
    await start();
    runner.halt();
    expect(source.paused).toBe(true);
    expect(runner.accepting).toBe(false);
    gate.set(true);
    gate.set(false);
    expect(source.paused).toBe(true);
    expect(source.batch(a, "1")).toEqual([]);
  });
});

describe("IntakeRunner: stop and the drain deadline", () => {
  it("stops intake, lets work in flight finish, then closes the source", async () => {
    await start();
    source.batch(a, "1", "2");
    const stopped = runner.stop(1_000);
    expect(runner.stopping).toBe(true);
    expect(runner.accepting).toBe(false);
    expect(source.paused).toBe(true);
    expect(source.quiesced).toBe(1);
    expect(held.contexts.get("1")?.stop?.aborted).toBe(true);
    held.answer(PUBLISHED, "1");
    await vi.advanceTimersByTimeAsync(500);
    expect(source.closed).toBe(0);
    held.answer(PUBLISHED, "2");
    await expect(stopped).resolves.toEqual({ abandoned: 0 });
    expect(source.closed).toBe(1);
    expect(held.contexts.get("1")?.abort?.aborted).toBe(false);
    expect(
      log.lines.filter((l) => l.msg === "drain deadline reached; cancelling Dojo calls in flight"),
    ).toEqual([]);
  });

  it("does not resume a lane held back once stopping", async () => {
    await start(2);
    source.batch(a, "1", "2");
    const stopped = runner.stop(1_000);
    held.answer(PUBLISHED, "1", "2");
    await stopped;
    expect(source.calls).toEqual(["resume -a", "pause"]);
  });

  it("cancels what is left at the deadline and reports what the source still holds", async () => {
    await start();
    source.batch(a, "1", "2", "3");
    held.answer(PUBLISHED, "1");
    await flush();
    let result: { abandoned: number } | undefined;
    void runner.stop(1_000).then((r) => {
      result = r;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(held.contexts.get("2")?.abort?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    // The deadline passed: Dojo calls are cancelled, and the pipeline answers "abandoned".
    expect(held.contexts.get("2")?.abort?.aborted).toBe(true);
    expect(
      log.lines.find((l) => l.msg === "drain deadline reached; cancelling Dojo calls in flight"),
    ).toMatchObject({
      inFlight: 2,
    });
    expect(source.closed).toBe(0);
    held.answer(ABANDONED, "2", "3");
    await flush();
    expect(source.closed).toBe(1);
    // The memory source holds released deliveries no longer; a Kafka partition would (its offsets).
    expect(result).toEqual({ abandoned: 0 });
  });

  it("gives up on work that does not come back within the cancel grace", async () => {
    await start();
    source.batch(a, "1");
    let result: { abandoned: number } | undefined;
    void runner.stop(100).then((r) => {
      result = r;
    });
    await vi.advanceTimersByTimeAsync(100 + 4_999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toEqual({ abandoned: 1 });
    expect(source.closed).toBe(1);
  });

  it("can be stopped twice", async () => {
    await start();
    await runner.stop(10);
    await expect(runner.stop(10)).resolves.toEqual({ abandoned: 0 });
    expect(source.calls).toEqual(["pause"]);
    expect(source.closed).toBe(2);
  });
});
