import { describe, expect, it } from "vitest";
import { KeyedScheduler } from "../../../src/pipeline/scheduler.ts";
import { deferred } from "./fakes.ts";

/** Lets every queued microtask and promise continuation run. */
async function drain(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A task that records its start and finishes when its gate opens. */
function gated(log: string[], name: string) {
  const gate = deferred<string>();
  const task = async () => {
    log.push(`start ${name}`);
    const value = await gate.promise;
    log.push(`end ${name}`);
    return value;
  };
  return { gate, task };
}

describe("KeyedScheduler", () => {
  it("runs tasks of one key in submission order while other keys run in parallel", async () => {
    const scheduler = new KeyedScheduler(10);
    const log: string[] = [];
    const a1 = gated(log, "a1");
    const a2 = gated(log, "a2");
    const b1 = gated(log, "b1");
    const r1 = scheduler.run("a", a1.task);
    const r2 = scheduler.run("a", a2.task);
    const r3 = scheduler.run("b", b1.task);
    await drain();
    expect(log).toEqual(["start a1", "start b1"]);

    b1.gate.resolve("b1");
    await expect(r3).resolves.toBe("b1");
    expect(log).not.toContain("start a2");

    a1.gate.resolve("a1");
    await expect(r1).resolves.toBe("a1");
    await drain();
    expect(log.indexOf("start a2")).toBeGreaterThan(log.indexOf("end a1"));
    a2.gate.resolve("a2");
    await expect(r2).resolves.toBe("a2");
  });

  it("keeps submission order for many tasks of one key", async () => {
    const scheduler = new KeyedScheduler(4);
    const order: number[] = [];
    const results = Array.from({ length: 50 }, (_, i) =>
      scheduler.run("k", async () => {
        // Later tasks finish faster if they were allowed to overlap.
        for (let t = 0; t < 50 - i; t++) await Promise.resolve();
        order.push(i);
      }),
    );
    await Promise.all(results);
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("never runs more than `limit` tasks at once", async () => {
    const scheduler = new KeyedScheduler(3);
    let active = 0;
    let peak = 0;
    const gates = Array.from({ length: 10 }, () => deferred());
    const results = gates.map((gate, i) =>
      scheduler.run(`key-${i}`, async () => {
        active += 1;
        peak = Math.max(peak, active);
        await gate.promise;
        active -= 1;
      }),
    );
    await drain();
    expect(active).toBe(3);
    expect(scheduler.running).toBe(3);
    expect(scheduler.queued).toBe(7);
    for (const gate of gates) {
      gate.resolve();
      await drain();
    }
    await Promise.all(results);
    expect(peak).toBe(3);
    expect(scheduler.running).toBe(0);
    expect(scheduler.queued).toBe(0);
  });

  it("hands a freed slot to waiting tasks in the order they queued", async () => {
    const scheduler = new KeyedScheduler(1);
    const log: string[] = [];
    const first = gated(log, "x");
    const rx = scheduler.run("x", first.task);
    await drain();
    const ry = scheduler.run("y", async () => {
      log.push("y");
    });
    await drain();
    const rz = scheduler.run(undefined, async () => {
      log.push("z");
    });
    const rw = scheduler.run("w", async () => {
      log.push("w");
    });
    await drain();
    expect(log).toEqual(["start x"]);
    expect(scheduler.queued).toBe(3);
    first.gate.resolve("x");
    await Promise.all([rx, ry, rz, rw]);
    expect(log).toEqual(["start x", "end x", "y", "z", "w"]);
  });

  it("does not give a slot to a task that waits behind its key", async () => {
    const scheduler = new KeyedScheduler(2);
    const log: string[] = [];
    const a1 = gated(log, "a1");
    const ra1 = scheduler.run("a", a1.task);
    // Waits for a1, not for a slot: it must not count as running or queued.
    const ra2 = scheduler.run("a", async () => {
      log.push("a2");
    });
    const b1 = gated(log, "b1");
    const rb1 = scheduler.run("b", b1.task);
    await drain();
    expect(log).toEqual(["start a1", "start b1"]);
    expect(scheduler.running).toBe(2);
    expect(scheduler.queued).toBe(0);

    // With a1 still running, the free slot from b goes to c, not to the waiting a2.
    b1.gate.resolve("b1");
    await rb1;
    const rc = scheduler.run("c", async () => {
      log.push("c");
    });
    await rc;
    expect(log).toContain("c");
    expect(log).not.toContain("a2");

    a1.gate.resolve("a1");
    await Promise.all([ra1, ra2]);
    expect(log.at(-1)).toBe("a2");
  });

  it("does not order tasks whose key is undefined", async () => {
    const scheduler = new KeyedScheduler(5);
    const log: string[] = [];
    const u1 = gated(log, "u1");
    const u2 = gated(log, "u2");
    const r1 = scheduler.run(undefined, u1.task);
    const r2 = scheduler.run(undefined, u2.task);
    await drain();
    expect(log).toEqual(["start u1", "start u2"]);
    u2.gate.resolve("u2");
    await expect(r2).resolves.toBe("u2");
    expect(log).not.toContain("end u1");
    u1.gate.resolve("u1");
    await expect(r1).resolves.toBe("u1");
  });

  it("starts the next task of a key after an earlier one rejected, and passes the rejection to its caller", async () => {
    const scheduler = new KeyedScheduler(1);
    const failed = scheduler.run("a", async () => {
      throw new Error("boom");
    });
    const next = scheduler.run("a", async () => "next");
    await expect(failed).rejects.toThrow("boom");
    await expect(next).resolves.toBe("next");
    expect(scheduler.running).toBe(0);
  });

  it("releases the slot of a task that throws synchronously", async () => {
    const scheduler = new KeyedScheduler(1);
    const thrown = scheduler.run(undefined, () => {
      throw new Error("sync");
    });
    await expect(thrown).rejects.toThrow("sync");
    await expect(scheduler.run(undefined, async () => 1)).resolves.toBe(1);
    expect(scheduler.running).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])("rejects the limit %s", (limit) => {
    expect(() => new KeyedScheduler(limit)).toThrow(RangeError);
  });

  it("accepts a limit of 1", () => {
    expect(new KeyedScheduler(1).running).toBe(0);
  });
});
