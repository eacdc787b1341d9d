// One chaos scenario: a Dojo simulator with 5% faults behind a proxy that can black-hole it, a fresh
// ledger, topics or queues of the scenario's own, relays as child processes (restarted when they exit,
// as an orchestrator would), the shop's messages sent at a steady rate, one fault injected while they
// flow, and the verdict taken from what came out.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  type WriteStream,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderMessage } from "../../src/demo/messages.ts";
import { type DemoPlan, type PlanMix, planDemo } from "../../src/demo/plan.ts";
import { createSimControl, type SimControl, startDojoSimulator } from "../../src/sim/index.ts";
import type { PrivatePostgres } from "../../test/support/postgres-server.ts";
import { BlackholeProxy } from "./blackhole.ts";
import { type IntentRecord, judge, keyOf, type Verdict } from "./check.ts";
import type { Scenario } from "./scenarios.ts";
import { type ChaosTransport, openKafka, openSqs } from "./transport.ts";

export interface Settings {
  readonly events: number;
  /** Messages sent per second. */
  readonly rate: number;
  readonly seed: number;
  /** Share of Dojo refund calls that fail (500, 503, 429 with Retry-After, timeout, applied-then-dropped). */
  readonly dojoFaultRate: number;
  readonly kafkaBrokers: string;
  readonly sqsEndpoint: string;
  /** Root of the repository (the relay is started from its bin/). */
  readonly root: string;
  /** Longest wait for every answer after the last message was sent. */
  readonly answerTimeoutMs: number;
  /** Where the relays' logs are kept. */
  readonly logDir: string;
  /** Starts (once) and returns the PostgreSQL server scenarios with a PostgreSQL ledger use. */
  readonly postgres: () => Promise<PrivatePostgres>;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly messages: number;
  readonly distinctEvents: number;
  readonly dojoFaults: number;
  readonly relayExits: number;
  readonly kills: number;
  readonly seconds: number;
  readonly verdict: Verdict;
  /** What went wrong around the run itself (not an invariant): e.g. a fault that could not be injected. */
  readonly notes: string[];
}

/** Several partial refunds per payment (about ten), 3% exact duplicates, 1% malformed or unparseable. */
export const CHAOS_MIX: PlanMix = {
  duplicate: 0.03,
  over_refund: 0.005,
  uncaptured: 0.005,
  invalid: 0.005,
  unparseable: 0.005,
  fullShare: 0.05,
  partsMin: 6,
  partsMax: 14,
};

/** How often a relay is SIGKILLed in the "sigkill" scenarios. */
export const KILL_INTERVAL_MS = 8_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function dojoFaults(rate: number, seed: number) {
  const each = rate / 5;
  return {
    seed,
    routes: {
      createRefund: {
        latencyMs: { min: 0, max: 5 },
        error500Rate: each,
        error503Rate: each,
        rateLimitRate: each,
        retryAfterSeconds: 1,
        hangRate: each,
        dropAfterApplyRate: each,
      },
    },
  };
}

/** The relays: child processes, each started again 1 s after it exits unless the run stopped it. */
class Relays {
  readonly #children: (ChildProcess | undefined)[] = [];
  readonly #logs: WriteStream[] = [];
  readonly #env: (i: number) => NodeJS.ProcessEnv;
  readonly #bin: string;
  /** Instances the fault keeps down (not restarted until brought back). */
  readonly #down = new Set<number>();
  #stopping = false;
  exits = 0;
  kills = 0;

  constructor(root: string, count: number, logDir: string, env: (i: number) => NodeJS.ProcessEnv) {
    this.#bin = join(root, "bin/refund-relay.js");
    this.#env = env;
    for (let i = 0; i < count; i++) {
      this.#logs.push(createWriteStream(join(logDir, `relay-${i + 1}.log`), { flags: "a" }));
      this.#children.push(undefined);
    }
  }

  get count(): number {
    return this.#children.length;
  }

  start(i: number): void {
    this.#down.delete(i);
    const child = spawn(process.execPath, [this.#bin, "start"], {
      env: this.#env(i),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = this.#logs[i] as WriteStream;
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.#children[i] = child;
    child.once("exit", (code, signal) => {
      if (this.#children[i] !== child) return;
      this.#children[i] = undefined;
      if (this.#stopping || this.#down.has(i)) return;
      if (signal !== "SIGKILL") this.exits += 1;
      log.write(`{"chaos":"relay ${i + 1} exited with ${code ?? signal}; starting it again in 1 s"}\n`);
      setTimeout(() => {
        if (!this.#stopping && !this.#down.has(i) && this.#children[i] === undefined) this.start(i);
      }, 1000);
    });
  }

  startAll(): void {
    for (let i = 0; i < this.count; i++) this.start(i);
  }

  /** SIGKILL; the relay comes back after 1 s unless `keepDown`. */
  async kill(i: number, keepDown = false): Promise<void> {
    const child = this.#children[i];
    if (keepDown) this.#down.add(i);
    if (child === undefined) return;
    this.kills += 1;
    (this.#logs[i] as WriteStream).write(`{"chaos":"SIGKILL relay ${i + 1}"}\n`);
    child.kill("SIGKILL");
    await once(child, "exit");
  }

  /** SIGTERM and wait for a graceful exit; kept down until started again. */
  async stop(i: number): Promise<void> {
    this.#down.add(i);
    const child = this.#children[i];
    if (child === undefined) return;
    child.kill("SIGTERM");
    await once(child, "exit");
  }

  liveIndexes(): number[] {
    return this.#children.flatMap((c, i) => (c === undefined ? [] : [i]));
  }

  async stopAll(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await Promise.all(
      this.#children.map(async (child) => {
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const exited = once(child, "exit");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(this.#logs.map((log) => new Promise((resolve) => log.end(resolve))));
  }
}

interface Ledger {
  /** LEDGER_URL for instance i. */
  url(i: number): string;
  readOnly(on: boolean): Promise<void>;
  drop(): Promise<void>;
}

async function openLedger(scenario: Scenario, settings: Settings): Promise<Ledger> {
  if (scenario.ledger === "sqlite") {
    // One ledger file per relay: a replica never shares its disk, and each must stay safe when the
    // events it recorded are answered by another.
    const dir = mkdtempSync(join(tmpdir(), "refund-relay-chaos-ledger-"));
    const chattr = (flag: string) => {
      for (const name of readdirSync(dir)) execFileSync("chattr", [flag, join(dir, name)]);
      execFileSync("chattr", [flag, dir]);
    };
    return {
      url: (i) => `sqlite:${join(dir, `ledger-${i + 1}.db`)}`,
      async readOnly(on) {
        chattr(on ? "+i" : "-i");
      },
      async drop() {
        chattr("-i");
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const server = await settings.postgres();
  const name = `chaos_${randomBytes(4).toString("hex")}`;
  const url = await server.createDatabase(name);
  return {
    url: () => url,
    async readOnly(on) {
      // Every new transaction on the server is read-only; sessions take the setting at the reload.
      await server.query(
        on
          ? "ALTER SYSTEM SET default_transaction_read_only = on"
          : "ALTER SYSTEM RESET default_transaction_read_only",
      );
      await server.query("SELECT pg_reload_conf()");
    },
    async drop() {
      if (!server.running) await server.start();
      await server.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function createIntents(control: SimControl, plan: DemoPlan): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const queue = [...plan.intents];
  const worker = async () => {
    for (let intent = queue.shift(); intent !== undefined; intent = queue.shift()) {
      ids.set(
        intent.ref,
        await control.createIntent({
          amount: intent.amount,
          status: intent.status,
          captureMode: intent.status === "Authorized" ? "Manual" : "Auto",
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return ids;
}

function brokers(command: "kafka-stop" | "kafka-resume", root: string): void {
  execFileSync("bash", [join(root, "scripts/brokers.sh"), command], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}

export async function runScenario(scenario: Scenario, settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const notes: string[] = [];
  const plan = planDemo(settings.events, settings.seed, CHAOS_MIX);
  const dojoKey = `sk_sandbox_chaos_${randomBytes(12).toString("hex")}`;
  const sim = await startDojoSimulator({ apiKeys: [dojoKey], seed: settings.seed });
  const control = createSimControl(sim.url);
  const proxy = await new BlackholeProxy(sim.url).start();
  const logDir = join(settings.logDir, scenario.name);
  rmSync(logDir, { recursive: true, force: true });
  execFileSync("mkdir", ["-p", logDir]);
  let transport: ChaosTransport | undefined;
  let ledger: Ledger | undefined;
  let relays: Relays | undefined;
  const restore: Array<() => Promise<void>> = [];
  try {
    const intentIds = await createIntents(control, plan);
    await control.setFaults(dojoFaults(settings.dojoFaultRate, settings.seed));
    transport =
      scenario.transport === "kafka"
        ? await openKafka(settings.kafkaBrokers, 8)
        : await openSqs(settings.sqsEndpoint, 6);
    ledger = await openLedger(scenario, settings);
    const relayEnv = transport.relayEnv;
    const ledgerOf = ledger;
    relays = new Relays(settings.root, scenario.instances, logDir, (i) => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...relayEnv,
      DOJO_BASE_URL: proxy.url,
      DOJO_API_KEY: dojoKey,
      LEDGER_URL: ledgerOf.url(i),
      DOJO_TIMEOUT_MS: "2000",
      DOJO_CONNECT_TIMEOUT_MS: "1000",
      RETRY_BASE_DELAY_MS: "100",
      RETRY_MAX_DELAY_MS: "2000",
      SHUTDOWN_TIMEOUT_MS: "10000",
      KAFKA_SESSION_TIMEOUT_MS: "6000",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
    }));
    relays.startAll();

    const time = new Date().toISOString();
    const rendered = plan.messages.map((m, i) =>
      renderMessage(m, m.intentRef === undefined ? undefined : intentIds.get(m.intentRef), i, time),
    );
    const distinct = new Set(plan.messages.map((m) => m.repeats ?? m.eventId));
    const answered = () => {
      const seen = new Set<string>();
      for (const a of (transport as ChaosTransport).answers)
        if (a.eventId !== undefined && (a.destination !== "dead-letter" || a.code !== undefined))
          seen.add(a.eventId);
      let n = 0;
      for (const id of distinct) if (seen.has(id)) n += 1;
      return n;
    };

    // The fault, started 3 s into sending.
    const sendSeconds = plan.messages.length / settings.rate;
    let sendingDone = false;
    const fault = (async () => {
      await sleep(3_000);
      const r = relays as Relays;
      switch (scenario.fault) {
        case "none":
          return;
        case "sigkill": {
          // The relays in turn, so each lives two intervals: long enough to start, join and work.
          for (let n = 0; !sendingDone || answered() < distinct.size; n++) {
            await r.kill(n % r.count);
            await sleep(KILL_INTERVAL_MS);
            if (Date.now() - started > settings.answerTimeoutMs + sendSeconds * 1000) return;
          }
          return;
        }
        case "instances": {
          await r.kill(0, true);
          await sleep(Math.max(4_000, (sendSeconds * 1000) / 4));
          await r.stop(1);
          await sleep(3_000);
          r.start(0);
          await sleep(3_000);
          r.start(1);
          return;
        }
        case "broker-stop": {
          restore.push(async () => brokers("kafka-resume", settings.root));
          brokers("kafka-stop", settings.root);
          await sleep(20_000);
          restore.pop();
          brokers("kafka-resume", settings.root);
          return;
        }
        case "postgres-restart": {
          const server = await settings.postgres();
          await server.restart({ downMs: 5_000, mode: "immediate" });
          return;
        }
        case "dojo-blackhole": {
          restore.push(async () => proxy.close());
          proxy.open();
          await sleep(15_000);
          proxy.close();
          return;
        }
        case "key-revoked": {
          restore.push(async () => void (await control.restoreKey(dojoKey)));
          await control.revokeKey(dojoKey);
          await sleep(10_000);
          await control.restoreKey(dojoKey);
          return;
        }
        case "ledger-read-only": {
          const l = ledger as Ledger;
          restore.push(() => l.readOnly(false));
          await l.readOnly(true);
          await sleep(10_000);
          await l.readOnly(false);
          return;
        }
      }
    })().catch((error: unknown) => {
      notes.push(`fault injection failed: ${error instanceof Error ? error.message : String(error)}`);
    });

    // The shop: wave 1 at a steady rate, then, once every event has its answer, the redeliveries.
    const wave1 = rendered.filter((_, i) => plan.messages[i]?.wave === 1);
    const wave2 = rendered.filter((_, i) => plan.messages[i]?.wave === 2);
    const step = Math.max(1, Math.round(settings.rate / 10));
    const sendStart = Date.now();
    for (let i = 0; i < wave1.length; i += step) {
      const due = sendStart + (i / settings.rate) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      await transport.send(wave1.slice(i, i + step));
    }
    const waitAll = async () => {
      const deadline = Date.now() + settings.answerTimeoutMs;
      while (answered() < distinct.size && Date.now() < deadline) await sleep(250);
    };
    await waitAll();
    await transport.send(wave2);
    sendingDone = true;
    await fault;
    await waitAll();
    // Stragglers: redeliveries answered again, outcomes still in flight.
    await sleep(2_000);
    await relays.stopAll();
    await transport.drain();

    const intents: IntentRecord[] = [];
    for (const intent of plan.intents) {
      const id = intentIds.get(intent.ref) as string;
      const refunds = await control.refundsOf(id);
      intents.push({
        intentId: id,
        captured: intent.status === "Captured" ? intent.amount : 0,
        refundedAmount: refunds.refundedAmount,
        refunds: refunds.refunds,
      });
    }
    const invalidKeyRequests = new Map<string, number>();
    for (const m of plan.messages.filter((m) => m.kind === "invalid")) {
      const key = keyOf(m.eventId);
      invalidKeyRequests.set(key, (await control.idempotency(key)).requests);
    }
    const stats = await control.stats();
    const logLines = readdirSync(logDir).flatMap((f) => readFileSync(join(logDir, f), "utf8").split("\n"));
    const secrets = [dojoKey, transport.relayEnv.AWS_SECRET_ACCESS_KEY].filter((s): s is string => !!s);
    const verdict = judge({
      plan,
      answers: transport.answers,
      intents,
      invalidKeyRequests,
      logLines,
      secrets,
    });
    return {
      scenario,
      messages: plan.messages.length,
      distinctEvents: distinct.size,
      dojoFaults: Object.entries(stats.faultsInjected)
        .filter(([name]) => name !== "ok")
        .reduce((sum, [, n]) => sum + n, 0),
      relayExits: relays.exits,
      kills: relays.kills,
      seconds: Math.round((Date.now() - started) / 1000),
      verdict,
      notes,
    };
  } finally {
    for (const undo of restore.reverse()) await undo().catch(() => {});
    await relays?.stopAll().catch(() => {});
    await transport?.close().catch(() => {});
    await ledger?.drop().catch(() => {});
    await proxy.stop();
    await sim.close();
    if (!existsSync(logDir)) notes.push("log directory vanished");
  }
}
