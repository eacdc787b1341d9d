// `refund-relay reconcile` against real Kafka and the Dojo simulator: an event parked after Dojo's
// answer was lost is settled by hand, and its outcome reaches the outcome topic as the relay would send it.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { idempotencyKeyFor, outcomeEventId } from "../../../schemas/index.ts";
import { reconcileCommand } from "../../../src/cli/reconcile.ts";
import { createDojoClient, loadDojoAccounts } from "../../../src/dojo/index.ts";
import { type ParkCode, SqliteLedger } from "../../../src/ledger/index.ts";
import { returnApproved } from "../../support/events.ts";
import { KafkaHarness, SIM_KEY } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
const bin = fileURLToPath(new URL("../../../bin/refund-relay.js", import.meta.url));
let h: KafkaHarness;
let ledgerPath: string;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 1 }).setUp();
  ledgerPath = join(h.dataDir, "ledger.db");
});
afterAll(async () => {
  await h?.tearDown();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...h.env({ LEDGER_URL: `sqlite:${ledgerPath}`, EVENT_SOURCE: "urn:refund-relay:it" }),
    ...overrides,
  };
}

/** Runs the command in this process, with the harness's environment. */
async function reconcile(args: string[], overrides: Record<string, string> = {}) {
  for (const [name, value] of Object.entries(env(overrides))) vi.stubEnv(name, value);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c: Buffer) => (out += c.toString()));
  stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await reconcileCommand.run(args, { stdin: new PassThrough(), stdout, stderr });
  return { code, out, err };
}

/** Runs `refund-relay reconcile ...` as its own process: it must exit by itself once done. */
function reconcileProcess(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "reconcile", ...args], {
      env: { ...process.env, ...env() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`refund-relay reconcile ${args[0]} did not exit within 20 s:\n${out}${err}`));
    }, 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/**
 * An event the relay sent to Dojo once without learning the answer, then parked: recorded, submitted
 * and marked unknown through the ledger API, as the pipeline does.
 */
async function parkedEvent(paymentIntentId: string, code: ParkCode = "needs_reconciliation") {
  const event = returnApproved({ paymentIntentId, amount: 2500, metadata: { store: "leeds" } });
  const ref = { source: event.source, eventId: event.id };
  const idempotencyKey = idempotencyKeyFor(event);
  const ledger = new SqliteLedger({ path: ledgerPath, synchronous: "normal" });
  try {
    const now = new Date();
    await ledger.begin(
      {
        ...ref,
        idempotencyKey,
        requestHash: `hash-${event.id}`,
        paymentIntentId,
        merchantId: null,
        amount: 2500,
        currencyCode: "GBP",
        event: {
          specversion: event.specversion,
          id: event.id,
          source: event.source,
          type: event.type,
          data: event.data,
        },
      },
      now,
    );
    await ledger.markSubmitting(ref, "refund", { state: "received", attempts: 0 }, now);
    await ledger.markUnknown(ref, "timeout: no answer from Dojo", { state: "submitting", attempts: 1 }, now);
    await ledger.markParked(ref, code, "the refund's outcome could not be learned", now);
  } finally {
    await ledger.close();
  }
  return { event, ref, idempotencyKey };
}

async function stored(ref: { source: string; eventId: string }) {
  const ledger = new SqliteLedger({ path: ledgerPath });
  try {
    return { entry: (await ledger.get(ref))!, audit: await ledger.audit(ref) };
  } finally {
    await ledger.close();
  }
}

describe("refund-relay reconcile over Kafka", () => {
  it("settles a parked event as succeeded, publishes refund.succeeded and refuses a second settle", async () => {
    const pi = await h.dojo.createIntent({ amount: 2500, status: "Captured" });
    const { event, ref, idempotencyKey } = await parkedEvent(pi);
    // The refund did go through at Dojo; only its answer was lost.
    const dojo = createDojoClient({ baseUrl: h.sim.url, accounts: loadDojoAccounts({ apiKey: SIM_KEY }) });
    const refund = await dojo.createRefund({ paymentIntentId: pi, amount: 2500, idempotencyKey });
    await dojo.close();
    if (!refund.ok) throw new Error(`refund failed: ${refund.error.message}`);
    const refundId = refund.value.refundId;

    const listed = await reconcile(["list", "--json"]);
    expect(listed.code).toBe(0);
    const row = listed.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .find((r) => r.eventId === event.id);
    expect(row).toMatchObject({
      state: "unknown",
      attempts: 1,
      parked: { code: "needs_reconciliation" },
      dojo: { status: "Refunded", refundedAmount: 2500, captured: 2500 },
    });

    // --reason is required: nothing happens without it.
    const unexplained = await reconcile(["settle", event.id, "--as", "succeeded", "--refund-id", refundId]);
    expect(unexplained.code).toBe(2);

    const result = await reconcile([
      ...["settle", event.id, "--as", "succeeded", "--refund-id", refundId, "--actor", "ops-alice"],
      ...["--reason", "Dojo dashboard shows the refund; the relay's call timed out"],
    ]);
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    expect(result.out).toContain(`settled ${event.id} from ${event.source} as succeeded by ops-alice`);
    expect(result.out).toContain(
      `published refund.succeeded ${outcomeEventId(ref.source, ref.eventId, "refund.succeeded")}`,
    );

    await h.waitFor(() => h.outcomesOf(event.id).length === 1, "the settled outcome", 15_000);
    const [record] = h.outcomesOf(event.id);
    expect(record?.topic).toBe(h.topics.succeeded);
    expect(record?.key).toBe(pi);
    expect(record?.headers["content-type"]).toBe("application/cloudevents+json");
    expect(record?.json).toMatchObject({
      id: outcomeEventId(ref.source, ref.eventId, "refund.succeeded"),
      type: "refund.succeeded",
      source: "urn:refund-relay:it",
      subject: pi,
      data: {
        sourceEvent: { id: event.id, source: event.source },
        returnId: event.data.returnId,
        orderId: event.data.orderId,
        paymentIntentId: pi,
        refundId,
        amount: { value: 2500, currencyCode: "GBP" },
        idempotencyKey,
        method: "refund",
        attempts: 1,
        metadata: { store: "leeds" },
      },
    });

    const after = await stored(ref);
    expect(after.entry).toMatchObject({ state: "published", refundId, parked: null });
    expect(after.entry.outcome).toEqual(record?.json);
    expect(after.audit).toHaveLength(1);
    expect(after.audit[0]).toMatchObject({
      actor: "ops-alice",
      action: "settle-as-succeeded",
      reason: "Dojo dashboard shows the refund; the relay's call timed out",
      previousState: "unknown",
      newState: "succeeded",
    });
    expect((await reconcile(["list", "--json"])).out).not.toContain(event.id);

    const again = await reconcile([
      ...["settle", event.id, "--source", event.source, "--as", "failed", "--code", "dojo_rejected"],
      ...["--reason", "second thoughts"],
    ]);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`already settled: state published, refund.succeeded, refund ${refundId}`);
    expect((await stored(ref)).audit).toHaveLength(1);
    expect(h.outcomesOf(event.id)).toHaveLength(1);
  });

  it("as a process: settles as failed with the given code, exits, and refuses the second settle", async () => {
    const pi = await h.dojo.createIntent({ amount: 2500, status: "Captured" });
    const { event, ref } = await parkedEvent(pi, "retry_budget_exhausted");
    const args = [
      ...["settle", event.id, "--as", "failed", "--code", "payment_not_refundable"],
      ...["--reason", "customer was refunded by bank transfer instead"],
    ];

    const first = await reconcileProcess(args);
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    await h.waitFor(() => h.outcomesOf(event.id).length === 1, "the refund.failed", 15_000);
    const [record] = h.outcomesOf(event.id);
    expect(record?.topic).toBe(h.topics.failed);
    expect(record?.key).toBe(pi);
    expect(record?.json?.data).toMatchObject({
      code: "payment_not_refundable",
      message: "customer was refunded by bank transfer instead",
      attempts: 1,
    });
    const after = await stored(ref);
    expect(after.entry.state).toBe("published");
    expect(after.audit[0]).toMatchObject({ action: "settle-as-failed", actor: expect.any(String) });

    // Without --source the id is looked up among parked events, and this one is no longer parked.
    const again = await reconcileProcess([...args.slice(0, 2), "--source", event.source, ...args.slice(2)]);
    expect(again.code).toBe(1);
    expect(again.err).toContain(
      "already settled: state published, refund.failed, code payment_not_refundable",
    );
  });

  it("changes nothing when the outcome topic does not exist (exit 2), and publish re-sends a stored outcome", async () => {
    const pi = await h.dojo.createIntent({ amount: 2500, status: "Captured" });
    const { event, ref } = await parkedEvent(pi, "internal_error");
    const args = [
      "settle",
      event.id,
      "--as",
      "failed",
      "--code",
      "dojo_rejected",
      "--reason",
      "checked with Dojo",
    ];
    const missing = await reconcile(args, { KAFKA_FAILED_TOPIC: "rf-does-not-exist" });
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("Kafka topic rf-does-not-exist does not exist; nothing was changed");
    expect(await stored(ref)).toMatchObject({
      entry: { state: "unknown", parked: { code: "internal_error" } },
      audit: [],
    });

    expect((await reconcile(args)).code).toBe(0);
    const republished = await reconcile(["publish", event.id, "--source", event.source]);
    expect(republished.code).toBe(0);
    await h.waitFor(() => h.outcomesOf(event.id).length === 2, "the outcome twice", 15_000);
    const [first, second] = h.outcomesOf(event.id);
    expect(second?.value).toBe(first?.value);
    expect((await stored(ref)).audit).toHaveLength(1);
  });
});
