// Whether the relay can do its work now, and why not: /readyz. It is ready when it has started and is
// not stopping; its broker answers and its consumer is in working order (not restarting, not crash
// looping, not given up); no fault of its own world is active (the fault gate: a rejected Dojo key, a
// ledger that cannot write, outcomes that cannot be published); and it makes progress when there is
// work: with messages in the pipeline, or (where the transport can tell) messages waiting at the
// broker, something must settle, or be taken, within the stall window.
import type { ActiveFault, FaultKind } from "../pipeline/index.ts";

export interface Check {
  readonly ok: boolean;
  /** Why not, in words, when not ok. */
  readonly reason?: string;
}

/** What a transport's wiring tells readiness; each check says why it fails. */
export interface TransportProbe {
  /** The broker (Kafka cluster, SQS) answers. */
  broker(now: number): Check;
  /** The consumer works: in its group, not restarting or crash looping, not given up for good. */
  consumer(now: number): Check;
  /**
   * Messages waiting at the broker that this relay should be taking, when the transport can tell
   * it reliably (SQS's approximate depth); undefined otherwise.
   */
  backlog(): number | undefined;
}

/** What readiness reads of the work in hand (see MessageWatch). */
export interface WorkState {
  readonly inFlight: number;
  readonly lastTakenAt: number | undefined;
  readonly lastSettledAt: number | undefined;
}

export interface ReadinessSources {
  readonly faults: () => readonly ActiveFault[];
  readonly transport: TransportProbe;
  readonly work: WorkState;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** Every failing check's reason, in check order. */
  readonly reasons: readonly string[];
  readonly checks: Readonly<Record<string, Check>>;
}

const FAULT_CHECKS: ReadonlyArray<{
  readonly check: string;
  readonly kind: FaultKind;
  readonly what: string;
}> = [
  { check: "dojo", kind: "dojo_credentials", what: "Dojo rejects the API key" },
  { check: "ledger", kind: "ledger", what: "the ledger cannot read or write" },
  { check: "publish", kind: "publish", what: "outcomes or dead letters cannot be published" },
];

const OK: Check = { ok: true };

export class Readiness {
  readonly #stallMs: number;
  readonly #now: () => number;
  #sources: ReadinessSources | undefined;
  #stopping = false;
  /** Since when there has been work without a pause; undefined while idle. */
  #busySince: number | undefined;

  constructor(options: { readonly stallMs: number; readonly now?: () => number }) {
    this.#stallMs = options.stallMs;
    this.#now = options.now ?? Date.now;
  }

  /** The relay is running: its checks apply from now on. */
  attach(sources: ReadinessSources): void {
    this.#sources = sources;
  }

  /** The relay is stopping: never ready again. */
  stopping(): void {
    this.#stopping = true;
  }

  /**
   * Notes whether there is work now; called every second, so the stall window starts when work
   * appeared, not at the next request to /readyz.
   */
  tick(): void {
    const sources = this.#sources;
    if (sources === undefined) return;
    const busy = sources.work.inFlight > 0 || (sources.transport.backlog() ?? 0) > 0;
    if (!busy) this.#busySince = undefined;
    else this.#busySince ??= this.#now();
  }

  evaluate(): ReadinessReport {
    const sources = this.#sources;
    if (this.#stopping) return report({ running: { ok: false, reason: "the relay is stopping" } });
    if (sources === undefined) return report({ running: { ok: false, reason: "the relay is starting" } });
    this.tick();
    const now = this.#now();
    const checks: Record<string, Check> = {
      running: OK,
      broker: sources.transport.broker(now),
      consumer: sources.transport.consumer(now),
    };
    const active = new Map(sources.faults().map((f) => [f.kind, f]));
    for (const { check, kind, what } of FAULT_CHECKS) {
      const fault = active.get(kind);
      checks[check] =
        fault === undefined
          ? OK
          : { ok: false, reason: `${what} since ${fault.since.toISOString()}: ${fault.message}` };
    }
    checks.progress = this.#progress(sources, now);
    return report(checks);
  }

  #progress(sources: ReadinessSources, now: number): Check {
    const since = this.#busySince;
    if (since === undefined) return OK;
    const work = sources.work;
    // Settling is progress; with nothing in the pipeline, taking a message is too (the consumer reads).
    const moved = Math.max(since, work.lastSettledAt ?? 0, work.inFlight === 0 ? (work.lastTakenAt ?? 0) : 0);
    const stalledMs = now - moved;
    if (stalledMs < this.#stallMs) return OK;
    const backlog = sources.transport.backlog();
    const what =
      work.inFlight > 0
        ? `${work.inFlight} message(s) in the pipeline`
        : `about ${backlog ?? 0} message(s) waiting at the broker`;
    return {
      ok: false,
      reason: `stalled: ${what} and nothing ${work.inFlight > 0 ? "settled" : "taken"} for ${Math.round(stalledMs / 1000)} s (READY_STALL_MS ${this.#stallMs})`,
    };
  }
}

function report(checks: Record<string, Check>): ReadinessReport {
  const reasons: string[] = [];
  for (const check of Object.values(checks))
    if (!check.ok && check.reason !== undefined) reasons.push(check.reason);
  return { ready: reasons.length === 0, reasons, checks };
}
