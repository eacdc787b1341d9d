// A closed-loop load generator: `concurrency` workers issue refunds back to back until the count or the
// time limit is reached, recording each call's latency.

export interface PhaseResult {
  readonly name: string;
  readonly completed: number;
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export async function runPhase(
  name: string,
  options: { readonly count: number; readonly seconds: number; readonly concurrency: number },
  call: (index: number) => Promise<boolean>,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  async function worker(): Promise<void> {
    while (next < options.count && performance.now() < deadline) {
      const index = next++;
      const t0 = performance.now();
      const ok = await call(index);
      latencies.push(performance.now() - t0);
      if (!ok) failed++;
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name,
    completed: latencies.length,
    failed,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

export function formatRow(r: PhaseResult): string {
  return [
    r.name.padEnd(22),
    String(r.completed).padStart(8),
    String(r.failed).padStart(7),
    r.seconds.toFixed(2).padStart(8),
    r.perSecond.toFixed(0).padStart(11),
    r.p50Ms.toFixed(2).padStart(8),
    r.p99Ms.toFixed(2).padStart(8),
  ].join(" ");
}

export const HEADER = [
  "phase".padEnd(22),
  "refunds".padStart(8),
  "failed".padStart(7),
  "seconds".padStart(8),
  "refunds/s".padStart(11),
  "p50 ms".padStart(8),
  "p99 ms".padStart(8),
].join(" ");
