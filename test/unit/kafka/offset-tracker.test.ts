import { describe, expect, it } from "vitest";
import { GROUP_OFFSET_GRACE_MS, PartitionOffsets } from "../../../consumers/kafka/offset-tracker.ts";

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

describe("PartitionOffsets: offsets that go backwards", () => {
  it("reports the highest offset seen and the oldest one still pending", () => {
    const p = new PartitionOffsets();
    expect(p.highestSeen).toBe(-1);
    expect(p.lowestPending).toBeUndefined();
    for (const o of [4, 5, 6]) p.add(o);
    expect(p.highestSeen).toBe(6);
    expect(p.lowestPending).toBe(4);
    p.settle(4);
    p.settle(6);
    expect(p.lowestPending).toBe(5);
    p.settle(5);
    expect(p.lowestPending).toBeUndefined();
    expect(p.highestSeen).toBe(6);
  });

  it("accepts any first batch, then batches that continue where reading stopped, gaps included", () => {
    const p = new PartitionOffsets();
    expect(p.checkBatch(40, 50)).toBeUndefined();
    for (const o of [40, 41, 42]) p.add(o);
    expect(p.checkBatch(43, 50)).toBeUndefined();
    expect(p.checkBatch(47, 50)).toBeUndefined();
  });

  it("reports a batch that starts below the position reading had reached (a log that started over)", () => {
    const p = tracked(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    expect(p.checkBatch(0, 40)).toEqual({ kind: "batch_before_position", known: 10, reported: 0 });
    expect(p.checkBatch(9, 40)).toEqual({ kind: "batch_before_position", known: 10, reported: 9 });
  });

  it("reports a high watermark at or below what was read", () => {
    const p = tracked(0, 1, 2, 3, 4);
    expect(p.checkBatch(5, 6)).toBeUndefined();
    expect(p.checkBatch(5, 4)).toEqual({ kind: "end_below_position", known: 5, reported: 4 });
    expect(p.checkEnd(3)).toEqual({ kind: "end_below_position", known: 5, reported: 3 });
    expect(p.checkEnd(5)).toBeUndefined();
    // With the position as it was when the end offset was asked for.
    expect(p.checkEnd(3, 2)).toBeUndefined();
    expect(new PartitionOffsets().checkEnd(0)).toBeUndefined();
  });

  it("reports a log that now starts above an offset still in progress", () => {
    const p = tracked(10, 11, 12);
    p.settle(10);
    expect(p.checkStart(11)).toBeUndefined();
    expect(p.checkStart(12)).toEqual({ kind: "start_above_pending", known: 11, reported: 12 });
    p.settle(11);
    p.settle(12);
    expect(p.checkStart(500)).toBeUndefined();
  });

  it("after a reassignment, accepts a re-fetch from the committed offset and skips what it saw", () => {
    const p = tracked(0, 1, 2, 3, 4, 5);
    p.settle(0);
    p.settle(1);
    p.committed(2);
    p.reassigned();
    // kafkajs fetches again from the group's committed offset: not a regression.
    expect(p.checkBatch(2, 6)).toBeUndefined();
    expect([2, 3, 4, 5].map((o) => p.add(o))).toEqual([false, false, false, false]);
    expect(p.add(6)).toBe(true);
    // ... and the next batch continues after it.
    expect(p.checkBatch(3, 8)).toEqual({ kind: "batch_before_position", known: 7, reported: 3 });
  });

  it("after a reassignment, reports a batch below the committed offset (the group's offsets were deleted)", () => {
    const p = tracked(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    for (let o = 0; o < 10; o++) p.settle(o);
    p.committed(10);
    p.reassigned();
    expect(p.checkBatch(0, 40)).toEqual({ kind: "batch_before_position", known: 10, reported: 0 });
  });

  it("after a reassignment with nothing committed, expects the first offset it ever saw", () => {
    const p = tracked(20, 21);
    p.reassigned();
    expect(p.checkBatch(20, 22)).toBeUndefined();
    expect(p.checkBatch(19, 22)).toEqual({ kind: "batch_before_position", known: 20, reported: 19 });
    const fresh = new PartitionOffsets();
    fresh.reassigned();
    expect(fresh.checkBatch(0, 1)).toBeUndefined();
  });

  it("reports the group's committed offset falling below a commit it acknowledged", () => {
    const p = tracked(0, 1, 2, 3);
    // No commit yet: the group has none, or an older one.
    expect(p.checkGroupOffset(-1)).toBeUndefined();
    p.settle(0);
    p.settle(1);
    p.committed(2);
    expect(p.checkGroupOffset(2)).toBeUndefined();
    expect(p.checkGroupOffset(-1)).toEqual({ kind: "group_offset_reset", known: 2, reported: -1 });
    // kafkajs commits -2 (the earliest offset) when it resets an out-of-range position.
    expect(p.checkGroupOffset(-2)).toEqual({ kind: "group_offset_reset", known: 2, reported: -1 });
    expect(p.checkGroupOffset(1)).toEqual({ kind: "group_offset_reset", known: 2, reported: 1 });
  });

  it("remembers what the group was seen to hold, and follows it forward", () => {
    const p = new PartitionOffsets();
    expect(p.checkGroupOffset(30)).toBeUndefined();
    expect(p.checkGroupOffset(-1)).toEqual({ kind: "group_offset_reset", known: 30, reported: -1 });
    const q = new PartitionOffsets();
    expect(q.checkGroupOffset(30)).toBeUndefined();
    expect(q.checkGroupOffset(45)).toBeUndefined();
    expect(q.checkGroupOffset(44)).toEqual({ kind: "group_offset_reset", known: 45, reported: 44 });
  });

  it("takes its own acknowledged commit as the group's value even when it is lower", () => {
    // Another member moved the group on while this one was out of the group; this member's commit
    // then sets it back (a redelivery, not a loss), and that is not a reset.
    const p = tracked(0, 1, 2);
    expect(p.checkGroupOffset(50)).toBeUndefined();
    p.settle(0);
    p.committed(1);
    expect(p.checkGroupOffset(1)).toBeUndefined();
  });

  it("gives a transaction's commit time to show up in the group, withholding commits meanwhile", () => {
    const p = tracked(0, 1, 2, 3, 4);
    p.settle(0);
    p.settle(1);
    p.committed(2, "awaited");
    expect(p.takeCommit()).toBeUndefined();
    const t0 = 1_000_000;
    // The transaction's markers are not written yet: the group still shows nothing.
    expect(p.checkGroupOffset(-1, t0)).toBeUndefined();
    expect(p.commitWithheld).toBe(true);
    expect(p.checkGroupOffset(-1, t0 + GROUP_OFFSET_GRACE_MS - 1)).toBeUndefined();
    expect(p.checkGroupOffset(2, t0 + GROUP_OFFSET_GRACE_MS - 1)).toBeUndefined();
    expect(p.commitWithheld).toBe(false);
    // Once seen, it is the floor.
    expect(p.checkGroupOffset(-1, t0 + GROUP_OFFSET_GRACE_MS)).toEqual({
      kind: "group_offset_reset",
      known: 2,
      reported: -1,
    });
  });

  it("reports a transaction's commit that never shows up in the group", () => {
    const p = tracked(0, 1);
    p.settle(0);
    p.committed(1, "awaited");
    const t0 = 5_000;
    expect(p.checkGroupOffset(-1, t0)).toBeUndefined();
    expect(p.checkGroupOffset(-1, t0 + GROUP_OFFSET_GRACE_MS)).toEqual({
      kind: "group_offset_reset",
      known: 1,
      reported: -1,
    });
  });

  it("commits nothing more once halted", () => {
    const p = tracked(0, 1, 2);
    p.settle(0);
    expect(p.takeCommit()).toBe(1);
    p.halt();
    expect(p.halted).toBe(true);
    p.settle(1);
    expect(p.takeCommit()).toBeUndefined();
  });
});
