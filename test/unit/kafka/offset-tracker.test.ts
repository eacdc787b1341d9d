import { describe, expect, it } from "vitest";
import { PartitionOffsets } from "../../../consumers/kafka/offset-tracker.ts";

function tracked(...offsets: number[]): PartitionOffsets {
  const p = new PartitionOffsets();
  const refused = offsets.filter((o) => !p.add(o));
  expect(refused).toEqual([]);
  return p;
}

/** Deterministic shuffle (mulberry32), so a failure is reproducible. */
function shuffled(values: number[], seed: number): number[] {
  let a = seed;
  const random = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}

describe("PartitionOffsets", () => {
  it("has nothing to commit before anything settled", () => {
    const p = tracked(0, 1, 2);
    expect(p.takeCommit()).toBeUndefined();
    expect(p.inFlight).toBe(3);
  });

  it("commits one past the settled offset", () => {
    const p = tracked(10);
    expect(p.settle(10)).toBe(true);
    expect(p.takeCommit()).toBe(11);
    expect(p.inFlight).toBe(0);
  });

  it("holds the commit point behind an unsettled offset and moves it over a contiguous run", () => {
    const p = tracked(0, 1, 2, 3);
    expect(p.settle(1)).toBe(false);
    expect(p.settle(3)).toBe(false);
    expect(p.takeCommit()).toBeUndefined();
    expect(p.inFlight).toBe(4);
    expect(p.settle(0)).toBe(true);
    expect(p.takeCommit()).toBe(2);
    expect(p.inFlight).toBe(2);
    expect(p.settle(2)).toBe(true);
    expect(p.takeCommit()).toBe(4);
    expect(p.inFlight).toBe(0);
  });

  it("accepts gaps in the offsets (compacted or transactional topics)", () => {
    const p = tracked(5, 7, 12);
    expect(p.settle(7)).toBe(false);
    expect(p.settle(5)).toBe(true);
    expect(p.takeCommit()).toBe(8);
    expect(p.settle(12)).toBe(true);
    expect(p.takeCommit()).toBe(13);
  });

  it("refuses offsets seen before (a re-fetch after a rebalance)", () => {
    const p = tracked(0, 1, 2);
    expect(p.add(1)).toBe(false);
    expect(p.add(2)).toBe(false);
    expect(p.add(0)).toBe(false);
    expect(p.inFlight).toBe(3);
    expect(p.add(3)).toBe(true);
    p.settle(0);
    expect(p.add(0)).toBe(false);
  });

  it("takeCommit offers a commit point until it is recorded as committed", () => {
    const p = tracked(0, 1, 2);
    p.settle(0);
    expect(p.takeCommit()).toBe(1);
    expect(p.takeCommit()).toBe(1);
    p.committed(1);
    expect(p.takeCommit()).toBeUndefined();
    p.settle(1);
    expect(p.takeCommit()).toBe(2);
  });

  it("ignores a commit record older than the last one", () => {
    const p = tracked(0, 1, 2);
    p.settle(0);
    p.settle(1);
    p.committed(2);
    p.committed(1);
    expect(p.takeCommit()).toBeUndefined();
    p.settle(2);
    expect(p.takeCommit()).toBe(3);
  });

  it("does not move the commit point for a repeated settle", () => {
    const p = tracked(0, 1);
    expect(p.settle(0)).toBe(true);
    expect(p.settle(0)).toBe(false);
    expect(p.takeCommit()).toBe(1);
  });

  it("starts unfenced", () => {
    expect(new PartitionOffsets().fenced).toBe(false);
  });

  it("ends at last + 1 when 10,000 offsets settle in random order", () => {
    const offsets = Array.from({ length: 10_000 }, (_, i) => 1_000 + i);
    const p = tracked(...offsets);
    const order = shuffled(offsets, 42);
    let last: number | undefined;
    for (const [i, o] of order.entries()) {
      p.settle(o);
      const commit = p.takeCommit();
      if (commit !== undefined) {
        // The commit point only ever moves forward.
        if (last !== undefined && commit <= last) throw new Error(`commit went from ${last} to ${commit}`);
        last = commit;
        p.committed(commit);
      }
      if (i === order.length - 2) expect(p.inFlight).toBeGreaterThan(0);
    }
    expect(last).toBe(11_000);
    expect(p.inFlight).toBe(0);
    expect(p.takeCommit()).toBeUndefined();
  });

  it("keeps an exact commit point while the queue is compacted mid-stream", () => {
    // Settles in windows so the head passes the compaction threshold several times with work pending.
    const p = new PartitionOffsets();
    let next = 0;
    for (let round = 0; round < 6; round++) {
      const batch = Array.from({ length: 1_500 }, () => next++);
      for (const o of batch) p.add(o);
      const [held, ...rest] = batch as [number, ...number[]];
      const moved = shuffled(rest, round).filter((o) => p.settle(o));
      expect(moved).toEqual([]);
      expect(p.takeCommit() ?? 0).toBeLessThanOrEqual(held);
      expect(p.settle(held)).toBe(true);
      expect(p.takeCommit()).toBe(next);
      expect(p.inFlight).toBe(0);
    }
  });

  it("holds the commit point behind one slow offset among thousands with gaps", () => {
    const offsets = Array.from({ length: 5_000 }, (_, i) => i * 3);
    const p = tracked(...offsets);
    const slow = offsets[2_000] as number;
    for (const o of shuffled(offsets, 7)) if (o !== slow) p.settle(o);
    expect(p.takeCommit()).toBe((offsets[1_999] as number) + 1);
    expect(p.inFlight).toBe(3_000);
    p.settle(slow);
    expect(p.takeCommit()).toBe((offsets.at(-1) as number) + 1);
  });
});
