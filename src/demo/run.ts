// One demo run, all in this process: the Dojo simulator with injected faults, the relay with an SQLite
// ledger in a temporary directory, and the messages' transport (the in-process SQS emulator, or Kafka).
// The shop's messages go out in two waves: the mix of returns (with producer retries among them), then,
// once all are answered, redeliveries of settled events, which must be answered without a Dojo call.
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createSimControl, type SimControl, startDojoSimulator } from "../sim/index.ts";
import { DOJO_ROUTES } from "../sim/routes.ts";
import { renderMessage } from "./messages.ts";
import { type DemoPlan, planDemo } from "./plan.ts";
import { type DemoSummary, type ReadAnswer, type SimIntentRecord, summarize } from "./summary.ts";
import type { Answer, DemoWorld } from "./world.ts";

export interface DemoOptions {
  readonly events: number;
  /** Share of Dojo refund calls that fail in some way (0 to 0.5). */
  readonly faultRate: number;
  readonly seed: number;
  readonly transport: "sqs" | "kafka";
  /** Kafka only: the brokers. */
  readonly kafkaBrokers?: string;
  /** Longest wait for every answer of one wave. */
  readonly timeoutMs?: number;
  /** Progress while it runs (answers so far, by kind). */
  readonly onProgress?: (progress: DemoProgress) => void;
}

export interface DemoProgress {
  readonly phase: "starting" | "returns" | "redeliveries" | "checking";
  readonly sent: number;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly deadLettered: number;
}

export interface DemoResult {
  readonly summary: DemoSummary;
  readonly description: string;
  /** The relay's log (JSON lines), kept for a look afterwards. */
  readonly logFile: string;
}

const DEMO_KEY = "sk_sandbox_demo_relay";

/** Dojo faults on refund calls, shared out of `rate` the way they show up in practice. */
function faultConfig(rate: number, seed: number) {
  return {
    seed,
    routes: {
      createRefund: {
        latencyMs: { min: 2, max: 25 },
        error500Rate: rate * 0.2,
        error502Rate: rate * 0.1,
        error503Rate: rate * 0.2,
        rateLimitRate: rate * 0.2,
        retryAfterSeconds: 0,
        hangRate: rate * 0.1,
        dropAfterApplyRate: rate * 0.2,
      },
      getPaymentIntent: { latencyMs: { min: 1, max: 10 } },
    },
  };
}

async function dojoRequests(sim: SimControl): Promise<number> {
  const stats = await sim.stats();
  return DOJO_ROUTES.reduce((sum, route) => sum + (stats.requestsByRoute[route] ?? 0), 0);
}

function decode(answer: Answer): ReadAnswer {
  if (answer.destination === "dead-letter") {
    const marker = /\[(unparseable-[0-9a-f-]+)\]/.exec(answer.body)?.[1];
    let code: string | undefined;
    let eventId: string | undefined = marker;
    try {
      const envelope = JSON.parse(answer.body) as { deadLetter?: { code?: string; eventId?: string } };
      code = envelope.deadLetter?.code;
      eventId ??= envelope.deadLetter?.eventId;
    } catch {
      // Kafka dead letters carry the original bytes; their reason travels in headers.
      code = marker === undefined ? undefined : "unparseable";
    }
    return { destination: "dead-letter", eventId, outcomeId: undefined, code, refundId: undefined };
  }
  const outcome = JSON.parse(answer.body) as {
    id: string;
    data: { sourceEvent?: { id?: string }; code?: string; refundId?: string };
  };
  return {
    destination: answer.destination,
    eventId: outcome.data.sourceEvent?.id,
    outcomeId: outcome.id,
    code: outcome.data.code,
    refundId: outcome.data.refundId,
  };
}

export async function runDemo(
  options: DemoOptions,
  openWorld: (runId: string) => Promise<DemoWorld>,
): Promise<DemoResult> {
  const started = Date.now();
  const plan: DemoPlan = planDemo(options.events, options.seed);
  const runId = randomBytes(4).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), "refund-relay-demo-"));
  const logFile = join(dir, "relay.log");
  const answers: ReadAnswer[] = [];
  const counts = { succeeded: 0, failed: 0, deadLettered: 0 };
  let phase: DemoProgress["phase"] = "starting";
  let sent = 0;
  const total = plan.messages.length;
  const report = () => options.onProgress?.({ phase, sent, total, ...counts });

  const sim = await startDojoSimulator({ apiKeys: [DEMO_KEY], seed: options.seed });
  const control = createSimControl(sim.url);
  let world: DemoWorld | undefined;
  const destination = createWriteStream(logFile);
  const logger = createLogger({ level: "info", destination });
  let relay: Awaited<ReturnType<typeof import("../cli/relay-app.ts").startRelay>> | undefined;
  try {
    const transport = await openWorld(runId);
    world = transport;
    const intentIds = new Map<string, string>();
    for (const intent of plan.intents) {
      intentIds.set(
        intent.ref,
        await control.createIntent({
          amount: intent.amount,
          status: intent.status,
          captureMode: intent.status === "Authorized" ? "Manual" : "Auto",
        }),
      );
    }
    await control.setFaults(faultConfig(options.faultRate, options.seed));
    const config = loadConfig({
      ...transport.relayEnv,
      DOJO_BASE_URL: sim.url,
      DOJO_API_KEY: DEMO_KEY,
      LEDGER_URL: `sqlite:${join(dir, "ledger.db")}`,
      // Faults are frequent here by design: short timeouts and retries keep the run within seconds.
      DOJO_TIMEOUT_MS: "1000",
      RETRY_BASE_DELAY_MS: "50",
      RETRY_MAX_DELAY_MS: "500",
      SHUTDOWN_TIMEOUT_MS: "5000",
      LOG_LEVEL: "info",
    });
    const { startRelay } = await import("../cli/relay-app.ts");
    relay = await startRelay(config, logger);
    await transport.collect((answer) => {
      const decoded = decode(answer);
      answers.push(decoded);
      if (decoded.destination === "succeeded") counts.succeeded++;
      else if (decoded.destination === "failed") counts.failed++;
      else counts.deadLettered++;
      report();
    });

    const time = new Date().toISOString();
    const rendered = plan.messages.map((m, i) =>
      renderMessage(m, m.intentRef === undefined ? undefined : intentIds.get(m.intentRef), i, time),
    );
    const timeoutMs = options.timeoutMs ?? 60_000 + options.events * 100;
    let timedOut = false;
    // Answers owed per event id (a duplicate is owed one more), and answers read per event id.
    const expected = new Map<string, number>();
    const allAnswered = () => {
      const got = new Map<string, number>();
      for (const a of answers) if (a.eventId !== undefined) got.set(a.eventId, (got.get(a.eventId) ?? 0) + 1);
      for (const [id, n] of expected) if ((got.get(id) ?? 0) < n) return false;
      return true;
    };
    const sendWave = async (wave: 1 | 2) => {
      const messages = rendered.filter((_, i) => plan.messages[i]?.wave === wave);
      for (let i = 0; i < messages.length; i += 50) {
        await transport.send(messages.slice(i, i + 50));
        sent += Math.min(50, messages.length - i);
        report();
      }
      for (const m of messages) expected.set(m.eventId, (expected.get(m.eventId) ?? 0) + 1);
      const deadline = Date.now() + timeoutMs;
      while (!allAnswered() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (!allAnswered()) timedOut = true;
    };
    phase = "returns";
    await sendWave(1);
    const before = await dojoRequests(control);
    phase = "redeliveries";
    await sendWave(2);
    const dojoRequestsDuringRedelivery = (await dojoRequests(control)) - before;
    phase = "checking";
    report();
    const faults = (await control.stats()).faultsInjected;
    const intents: SimIntentRecord[] = [];
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
    const summary = summarize({
      plan,
      intentIds,
      answers,
      intents,
      faults,
      dojoRequestsDuringRedelivery,
      seconds: (Date.now() - started) / 1000,
      timedOut,
    });
    return { summary, description: transport.description, logFile };
  } finally {
    await relay?.stop();
    await world?.close();
    await sim.close();
    await new Promise((resolve) => destination.end(resolve));
    // The ledger goes with the run; the log stays for a look afterwards.
    rmSync(join(dir, "ledger.db"), { force: true });
    for (const suffix of ["-wal", "-shm"]) rmSync(join(dir, `ledger.db${suffix}`), { force: true });
  }
}
