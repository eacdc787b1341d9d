import { describe, expect, it } from "vitest";
import { SQS_RECEIVE_FAILURE_GRACE_MS, sqsProbe } from "../../../src/cli/relay-app.ts";

const QUEUE = "http://sqs.local/000000000000/returns";

function probeAt(
  clock: { now: number },
  receiveError: { message: string; since: Date } | undefined,
  depth: { error?: { message: string; at: Date }; known?: boolean } = { known: true },
) {
  const queue = {
    queueUrl: QUEUE,
    error: depth.error,
    depth: depth.known === false ? undefined : { visible: 3, notVisible: 0, delayed: 0 },
  };
  const probe = sqsProbe(queue as never, { receiveError });
  return { broker: () => probe.broker(clock.now) };
}

describe("SQS readiness: failing receives", () => {
  const since = new Date("2026-12-02T10:00:00Z");

  it("stays ready while receives have failed for less than the grace period", () => {
    const clock = { now: since.getTime() + SQS_RECEIVE_FAILURE_GRACE_MS - 1 };
    expect(probeAt(clock, { message: "socket hang up", since }).broker()).toEqual({ ok: true });
  });

  it("is not ready once receives have failed for the grace period, naming the queue, how long and why", () => {
    const clock = { now: since.getTime() + SQS_RECEIVE_FAILURE_GRACE_MS + 2_400 };
    const check = probeAt(clock, { message: "connect ECONNREFUSED 127.0.0.1:9324", since }).broker();
    expect(check).toEqual({
      ok: false,
      reason: `receiving from ${QUEUE} has failed for 7 s: connect ECONNREFUSED 127.0.0.1:9324`,
    });
  });

  it("is ready again as soon as a receive works (the error is cleared)", () => {
    const clock = { now: since.getTime() + 60_000 };
    expect(probeAt(clock, undefined).broker()).toEqual({ ok: true });
  });

  it("still reports a failed depth poll, and a queue that has not answered yet, within the grace period", () => {
    const clock = { now: since.getTime() + 1_000 };
    const failing = { message: "socket hang up", since };
    const polled = probeAt(clock, failing, { error: { message: "timed out", at: since } }).broker();
    expect(polled).toEqual({
      ok: false,
      reason: `SQS did not answer GetQueueAttributes on ${QUEUE}: timed out`,
    });
    expect(probeAt(clock, failing, { known: false }).broker()).toEqual({
      ok: false,
      reason: `SQS has not answered yet (${QUEUE})`,
    });
  });
});
