// Refunds per second and p99 latency of the Dojo client against the simulator (zero latency, its own
// process on 127.0.0.1), next to a plain fetch loop sending the same requests in the same run.
// Bounded: at most BENCH_REFUNDS refunds and BENCH_SECONDS seconds per phase, six phases in all.
import { createDojoClient, DojoAccounts } from "../../src/dojo/index.ts";
import { createSimControl } from "../../src/sim/index.ts";
import { formatRow, HEADER, type PhaseResult, runPhase } from "./measure.ts";
import { startSimProcess } from "./sim-process.ts";

const API_KEY = "sk_sandbox_bench";
const COUNT = positiveInt(process.env.BENCH_REFUNDS, 10_000);
const SECONDS = positiveInt(process.env.BENCH_SECONDS, 10);
const CONCURRENCY = positiveInt(process.env.BENCH_CONCURRENCY, 32);
const WARMUP = Math.min(2_000, COUNT);

const sim = await startSimProcess(API_KEY);
try {
  const control = createSimControl(sim.url);
  const phases = { count: COUNT, seconds: SECONDS, concurrency: CONCURRENCY };
  const warm = { count: WARMUP, seconds: SECONDS, concurrency: CONCURRENCY };
  const client = createDojoClient({
    baseUrl: sim.url,
    accounts: new DojoAccounts(API_KEY),
    connections: CONCURRENCY,
    retry: { maxAttempts: 1 },
  });
  const viaClient = (prefix: string, ids: string[]) => async (i: number) =>
    (
      await client.createRefund({
        paymentIntentId: ids[i] as string,
        amount: 1,
        idempotencyKey: `${prefix}-${i}`,
      })
    ).ok;
  const viaFetch = (prefix: string, ids: string[]) => async (i: number) => {
    const res = await fetch(`${sim.url}/payment-intents/${encodeURIComponent(ids[i] as string)}/refunds`, {
      method: "POST",
      headers: {
        authorization: `Basic ${API_KEY}`,
        version: "2026-02-27",
        "content-type": "application/json",
        idempotencyKey: `${prefix}-${i}`,
      },
      body: JSON.stringify({ amount: 1 }),
    });
    const body = (await res.json()) as { refundId?: unknown };
    return res.status === 200 && typeof body.refundId === "string";
  };
  const intents = (n: number) => control.createIntents({ amount: 100, status: "Captured" }, n);

  await runPhase("warm-up client", warm, viaClient("warm-c", await intents(WARMUP)));
  await runPhase("warm-up fetch", warm, viaFetch("warm-f", await intents(WARMUP)));
  // Two rounds in A-B-B-A order, so neither side gains from running later (warmer JIT, bigger maps).
  const results: PhaseResult[] = [];
  results.push(await runPhase("dojo client, round 1", phases, viaClient("c1", await intents(COUNT))));
  results.push(await runPhase("plain fetch, round 1", phases, viaFetch("f1", await intents(COUNT))));
  results.push(await runPhase("plain fetch, round 2", phases, viaFetch("f2", await intents(COUNT))));
  results.push(await runPhase("dojo client, round 2", phases, viaClient("c2", await intents(COUNT))));
  await client.close();

  const stats = await control.stats();
  const expected = 2 * WARMUP + results.reduce((n, r) => n + r.completed - r.failed, 0);
  console.log(
    `Dojo client benchmark: ${CONCURRENCY} concurrent callers, simulator at ${sim.url}, no injected latency`,
  );
  console.log(HEADER);
  for (const r of results) console.log(formatRow(r));
  console.log(`simulator refunds created: ${stats.refundsCreated} (expected ${expected})`);
  if (stats.refundsCreated !== expected) process.exitCode = 1;
} finally {
  await sim.stop();
}

function positiveInt(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
