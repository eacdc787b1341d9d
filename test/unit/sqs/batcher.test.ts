// The batch collector behind SQS's batch calls: ten per call at most, a short wait for company, a byte
// limit, one result per item, and retries that a drain sends at once.
import { describe, expect, it } from "vitest";
import { type BatchCall, Batcher, type EntryFailure } from "../../../consumers/sqs/index.ts";

function recording(fail: (item: number) => EntryFailure | undefined = () => undefined) {
  const calls: number[][] = [];
  const results = new Map<number, EntryFailure | undefined>();
  const call: BatchCall<number> = {
    async send(items) {
      calls.push([...items]);
      return items.flatMap((item, index) => {
        const failure = fail(item);
        return failure === undefined ? [] : [{ index, failure }];
      });
    },
    settled(item, failure) {
      results.set(item, failure);
    },
  };
  return { call, calls, results };
}

describe("Batcher", () => {
  it("sends ten at once and the rest after the linger, each with its own result", async () => {
    const { call, calls, results } = recording((item) =>
      item === 3 ? { code: "InternalError", message: "", senderFault: false } : undefined,
    );
    const batcher = new Batcher(call, { lingerMs: 5 });
    for (let i = 0; i < 13; i++) batcher.add(i);
    expect(calls).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
    await batcher.flush();
    expect(calls).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      [10, 11, 12],
    ]);
    expect(results.get(3)?.code).toBe("InternalError");
    expect([...results.entries()].filter(([, f]) => f !== undefined)).toHaveLength(1);
    expect(batcher.pending).toBe(0);
  });

  it("sends a batch early when the next item would pass the byte limit", async () => {
    const { call, calls } = recording();
    const batcher = new Batcher(call, { lingerMs: 5, maxBytes: 100, sizeOf: () => 40 });
    for (let i = 0; i < 5; i++) batcher.add(i);
    await batcher.flush();
    expect(calls).toEqual([[0, 1], [2, 3], [4]]);
  });

  it("fails every item of a call that failed as a whole", async () => {
    const results = new Map<number, EntryFailure | undefined>();
    const batcher = new Batcher<number>(
      {
        send: async () => {
          throw Object.assign(new Error("socket hang up"), { name: "TimeoutError" });
        },
        settled: (item, failure) => results.set(item, failure),
      },
      { lingerMs: 1 },
    );
    batcher.add(1);
    batcher.add(2);
    await batcher.flush();
    expect(results.get(1)).toEqual({ code: "TimeoutError", message: "socket hang up", senderFault: false });
    expect(results.get(2)?.code).toBe("TimeoutError");
  });

  it("sends items waiting to be tried again at once when drained", async () => {
    let failing = true;
    const calls: number[][] = [];
    const batcher: Batcher<number> = new Batcher<number>(
      {
        send: async (items) => {
          calls.push([...items]);
          return failing
            ? items.map((_, index) => ({ index, failure: { code: "X", message: "", senderFault: false } }))
            : [];
        },
        settled: (item, failure) => {
          if (failure !== undefined) batcher.later(item, 60_000);
        },
      },
      { lingerMs: 1 },
    );
    batcher.add(7);
    await batcher.flush();
    expect(batcher.pending).toBe(1);
    failing = false;
    await batcher.drain();
    expect(calls).toEqual([[7], [7]]);
    expect(batcher.pending).toBe(0);
  });
});
