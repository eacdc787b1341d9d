// The demo as a newcomer runs it: the command, its exit code, and a summary that matches the plan the
// seed gives (so the numbers it prints are the money that moved, not the relay's own opinion).
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { planDemo } from "../../../src/demo/plan.ts";
import type { DemoSummary } from "../../../src/demo/summary.ts";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../../bin/refund-relay.js", import.meta.url));

async function demo(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, "demo", ...args], {
      env: { ...process.env, ...env },
      timeout: 90_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

function expectMatchesPlan(summary: DemoSummary, events: number, seed: number) {
  const plan = planDemo(events, seed);
  const refunds = plan.messages.filter((m) => m.kind === "full" || m.kind === "partial");
  const count = (kind: string) => plan.messages.filter((m) => m.kind === kind).length;
  expect(summary.allHeld).toBe(true);
  expect(summary.invariants.map((i) => i.held)).not.toContain(false);
  expect(summary.messagesSent).toBe(events);
  expect(summary.refundsAtSimulator).toBe(refunds.length);
  expect(summary.refundedMinor).toBe(refunds.reduce((sum, m) => sum + (m.amount as number), 0));
  expect(summary.dojoRequestsDuringRedelivery).toBe(0);
  const outcomes = Object.fromEntries(summary.outcomes.map((o) => [`${o.outcome} ${o.code}`, o.count]));
  expect(outcomes).toEqual({
    "refund.succeeded -": refunds.length + count("duplicate"),
    "refund.failed amount_exceeds_refundable": count("over_refund"),
    "refund.failed payment_not_captured": count("uncaptured"),
    "refund.failed invalid_event": count("invalid"),
    "dead-lettered unparseable": count("unparseable"),
  });
}

describe("refund-relay demo", () => {
  it("runs over the in-process SQS emulator with faults, exits 0, and its summary matches the plan", async () => {
    const out = await demo(["--events", "150", "--seed", "21", "--fault-rate", "0.3", "--json"]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const summary = JSON.parse(out.stdout) as DemoSummary & { seed: number };
    expect(summary.seed).toBe(21);
    expectMatchesPlan(summary, 150, 21);
    // At this rate some of every kind of fault is drawn; each one was survived.
    const faults = Object.entries(summary.faultsSurvived).filter(([name]) => name !== "ok");
    expect(faults.reduce((sum, [, n]) => sum + n, 0)).toBeGreaterThan(10);
  });

  it("runs the same over Kafka with --kafka", async () => {
    const brokers = process.env.KAFKA_BROKERS as string;
    const out = await demo(["--events", "60", "--seed", "5", "--kafka", "--json"], {
      KAFKA_BROKERS: brokers,
    });
    expect(out.code).toBe(0);
    expectMatchesPlan(JSON.parse(out.stdout) as DemoSummary, 60, 5);
  });

  it("prints a table ending in the verdict, and says how to run the same again", async () => {
    const out = await demo(["--events", "40", "--seed", "8"]);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/--seed 8 --events 40/);
    expect(out.stdout).toMatch(/refund\.succeeded/);
    expect(out.stdout).toMatch(/every invariant held/);
  });

  it("refuses bad options with exit 2, naming the option", async () => {
    for (const args of [["--events", "5"], ["--fault-rate", "2"], ["--seed", "x"], ["--nope"]]) {
      const out = await demo(args);
      expect(out.code).toBe(2);
      expect(out.stderr).toMatch(/--(events|fault-rate|seed|nope)/);
    }
  });

  it("exits 1 with a hint when Kafka cannot be reached", async () => {
    const out = await demo(["--events", "20", "--kafka"], { KAFKA_BROKERS: "127.0.0.1:1" });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/could not complete.*try without --kafka/s);
  });
});
