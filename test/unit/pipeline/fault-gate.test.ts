// The FaultGate: the one place that knows whether a fault of the relay's own world is active. Intake
// listens to `paused`; deliveries waiting out a fault are woken when it clears.
import { describe, expect, it } from "vitest";
import { FaultGate } from "../../../src/pipeline/index.ts";
import { gateLog } from "./fakes.ts";

describe("FaultGate", () => {
  it("pauses on the first fault, reports each kind once, and resumes when the last one clears", () => {
    let clock = 1_000;
    const gate = new FaultGate({ now: () => new Date(clock) });
    const log = gateLog(gate);

    expect(gate.paused).toBe(false);
    expect(gate.report("ledger", "disk I/O error")).toBe(true);
    expect(gate.report("ledger", "disk I/O error again")).toBe(false);
    clock += 5;
    expect(gate.report("dojo_credentials", "HTTP 401")).toBe(true);
    expect(gate.paused).toBe(true);
    expect(gate.active).toEqual([
      { kind: "ledger", since: new Date(1_000), message: "disk I/O error" },
      { kind: "dojo_credentials", since: new Date(1_005), message: "HTTP 401" },
    ]);

    expect(gate.clear("ledger")?.kind).toBe("ledger");
    expect(gate.paused).toBe(true);
    expect(gate.clear("ledger")).toBeUndefined();
    gate.clear("dojo_credentials");
    expect(gate.paused).toBe(false);
    // One change to paused, one back: listeners hear changes, not reports.
    expect(log).toEqual([true, false]);
  });

  it("wakes the deliveries waiting for a fault when that fault clears, and only then", async () => {
    const gate = new FaultGate();
    gate.report("ledger", "down");
    gate.report("publish", "broker down");
    let woke = false;
    const waiting = gate.cleared("ledger").then(() => {
      woke = true;
    });
    gate.clear("publish");
    await Promise.resolve();
    expect(woke).toBe(false);
    gate.clear("ledger");
    await waiting;
    expect(woke).toBe(true);
  });

  it("answers at once for a fault that is not active, and gives up a wait when its signal aborts", async () => {
    const gate = new FaultGate();
    await gate.cleared("ledger");
    gate.report("ledger", "down");
    const abort = new AbortController();
    const waiting = gate.cleared("ledger", abort.signal);
    abort.abort();
    await waiting;
    expect(gate.paused).toBe(true);
  });

  it("stops telling a listener once it unsubscribed", () => {
    const gate = new FaultGate();
    const heard: boolean[] = [];
    const unsubscribe = gate.subscribe((paused) => heard.push(paused));
    gate.report("publish", "down");
    unsubscribe();
    gate.clear("publish");
    expect(heard).toEqual([true]);
  });

  it("clears a fault once the last delivery retrying against it stops without clearing it", () => {
    const gate = new FaultGate();
    const log = gateLog(gate);
    gate.report("publish", "SQS did not answer");
    const first = gate.probe("publish");
    const second = gate.probe("publish");
    first();
    first(); // a second call changes nothing
    expect(gate.paused).toBe(true);
    second();
    // Nobody is left to find out that SQS is back: intake resumes and the next message tests it.
    expect(gate.paused).toBe(false);
    expect(log).toEqual([true, false]);
  });

  it("leaves other faults, and faults already cleared, alone when probes stop", () => {
    const gate = new FaultGate();
    gate.report("ledger", "disk I/O error");
    gate.report("publish", "SQS did not answer");
    const ledgerProbe = gate.probe("ledger");
    const publishProbe = gate.probe("publish");
    publishProbe();
    expect(gate.active.map((f) => f.kind)).toEqual(["ledger"]);
    gate.clear("ledger");
    ledgerProbe();
    expect(gate.paused).toBe(false);
    // A probe of a kind that was never reported clears nothing and pauses nothing.
    gate.probe("dojo_credentials")();
    expect(gate.paused).toBe(false);
  });
});
