// Measurements from /proc: peak RSS and CPU seconds of the processes under test and of the servers that
// serve a run (simulator, local Kafka broker, local PostgreSQL), and percentiles.
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export interface OtherCpu {
  sim: number;
  broker: number;
  /** Every local `postgres` process, including backends that exited (counted in the postmaster). */
  postgres: number;
  /** This process: producer and collector. */
  bench: number;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return Math.round((kb / 1024) * 10) / 10;
}

function statFields(pid: number): string[] {
  return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
}

/** User + system CPU seconds a process has used so far; with `children`, also its reaped children's. */
export function cpuSeconds(pid: number, children = false): number {
  const f = statFields(pid);
  let ticks = Number(f[11] ?? 0) + Number(f[12] ?? 0);
  if (children) ticks += Number(f[13] ?? 0) + Number(f[14] ?? 0);
  return round2(ticks / 100);
}

/** CPU seconds of all local `postgres` processes; NaN when there are none (a remote server). */
export function postgresCpu(): number {
  let total = 0;
  let found = false;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, "utf8").trim() !== "postgres") continue;
      total += cpuSeconds(Number(name), true);
      found = true;
    } catch {
      // The process exited while being read.
    }
  }
  return found ? total : Number.NaN;
}

export function otherCpu(root: string, simPid: number | undefined): OtherCpu {
  let broker = Number.NaN;
  try {
    broker = cpuSeconds(Number(readFileSync(join(root, ".brokers/kafka.pid"), "utf8").trim()));
  } catch {
    // Brokers not started by scripts/brokers.sh: not measured.
  }
  const own = process.cpuUsage();
  return {
    sim: simPid === undefined ? Number.NaN : cpuSeconds(simPid),
    broker,
    postgres: postgresCpu(),
    bench: round2((own.user + own.system) / 1e6),
  };
}

export function cpuBetween(before: OtherCpu, after: OtherCpu): OtherCpu {
  return {
    sim: round2(after.sim - before.sim),
    broker: round2(after.broker - before.broker),
    postgres: round2(after.postgres - before.postgres),
    bench: round2(after.bench - before.bench),
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
