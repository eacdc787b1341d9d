import { createServer } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDojoClient, DojoAccounts } from "../../../src/dojo/index.ts";
import { freshKey, type Harness, KEY, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => h.control.reset());

async function capturedIntent(amount = 1000): Promise<string> {
  return h.control.createIntent({ amount, status: "Captured" });
}

describe("refund retries under injected faults", () => {
  it.each(["500", "502", "503"] as const)(
    "retries a %s with the same key and ends with one refund",
    async (status) => {
      const id = await capturedIntent();
      await h.control.setFaults({ routes: { createRefund: { script: [status, status] } } });
      const key = freshKey();
      const result = await h.client().createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: key });
      expect(result).toMatchObject({ ok: true, attempts: 3 });
      const seen = await h.control.requests({ idempotencyKey: key });
      expect(seen.map((r) => r.outcome)).toEqual([Number(status), Number(status), 200]);
      expect(await h.control.idempotency(key)).toMatchObject({ requests: 3, refundsCreated: 1 });
    },
  );

  it("gives up after maxAttempts with server_error, classified indeterminate", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { error503Rate: 1 } } });
    const result = await h
      .client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, budgetMs: 5000 } })
      .createRefund({
        paymentIntentId: id,
        amount: 100,
        idempotencyKey: freshKey(),
      });
    expect(result).toMatchObject({
      ok: false,
      attempts: 3,
      error: { code: "server_error", kind: "indeterminate", status: 503 },
    });
    if (result.ok) return;
    expect(result.error.problem?.title).toBe("Service Unavailable");
  });

  it("honours Retry-After on a 429 before retrying", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { script: ["429"], retryAfterSeconds: 1 } } });
    const started = performance.now();
    const result = await h
      .client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2000, budgetMs: 5000 } })
      .createRefund({
        paymentIntentId: id,
        amount: 100,
        idempotencyKey: freshKey(),
      });
    expect(result).toMatchObject({ ok: true, attempts: 2 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });

  it("stops at a Retry-After longer than the delay cap and reports rate_limited with the wait", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { script: ["429"], retryAfterSeconds: 30 } } });
    const result = await h
      .client()
      .createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: freshKey() });
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: "rate_limited", kind: "indeterminate", status: 429, retryAfterMs: 30_000 },
    });
  });

  it("recovers from a dropped connection after the refund was applied: the retry gets the same refund", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { script: ["drop_after_apply"] } } });
    const key = freshKey();
    const result = await h.client().createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: key });
    expect(result).toMatchObject({ ok: true, attempts: 2 });
    const refunds = await h.control.refundsOf(id);
    expect(refunds.refunds).toHaveLength(1);
    expect(result.ok && result.value.refundId).toBe(refunds.refunds[0]?.refundId);
    expect(await h.control.idempotency(key)).toMatchObject({ requests: 2, refundsCreated: 1, replays: 1 });
  });

  it("reports a dropped connection as connection_reset (indeterminate) when no retry is allowed", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { script: ["drop_after_apply"] } } });
    const result = await h.client({ retry: { maxAttempts: 1 } }).createRefund({
      paymentIntentId: id,
      amount: 100,
      idempotencyKey: freshKey(),
    });
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: "connection_reset", kind: "indeterminate" },
    });
    expect((await h.control.refundsOf(id)).refunds).toHaveLength(1);
  });

  it("times out a request that gets no response, then succeeds on the retry with one refund", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { script: ["hang"] } } });
    const key = freshKey();
    const client = h.client({ timeouts: { connectMs: 1000, headersMs: 150, bodyMs: 1000, totalMs: 2000 } });
    const result = await client.createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: key });
    expect(result).toMatchObject({ ok: true, attempts: 2 });
    expect((await h.control.requests({ idempotencyKey: key })).map((r) => r.outcome)).toEqual(["hang", 200]);
    expect((await h.control.stats()).refundsCreated).toBe(1);
  });

  it("reports a headers timeout as timeout (indeterminate) and really ends the wait", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { hangRate: 1 } } });
    const client = h.client({
      timeouts: { connectMs: 1000, headersMs: 200, bodyMs: 1000, totalMs: 10_000 },
      retry: { maxAttempts: 1 },
    });
    const started = performance.now();
    const result = await client.createRefund({
      paymentIntentId: id,
      amount: 100,
      idempotencyKey: freshKey(),
    });
    expect(result).toMatchObject({ ok: false, error: { code: "timeout", kind: "indeterminate" } });
    // undici checks header timeouts on a coarse (about one second) timer; 10 s would be the total deadline.
    expect(performance.now() - started).toBeLessThan(2500);
  });

  it("ends an attempt at the total deadline even when the headers timeout is longer", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { hangRate: 1 } } });
    const client = h.client({
      timeouts: { connectMs: 1000, headersMs: 30_000, bodyMs: 30_000, totalMs: 200 },
      retry: { maxAttempts: 1 },
    });
    const started = performance.now();
    const result = await client.createRefund({
      paymentIntentId: id,
      amount: 100,
      idempotencyKey: freshKey(),
    });
    expect(result).toMatchObject({ ok: false, error: { code: "timeout", kind: "indeterminate" } });
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it("ends the whole call within the retry budget, cutting the last attempt short", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { hangRate: 1 } } });
    const client = h.client({
      timeouts: { connectMs: 1000, headersMs: 30_000, bodyMs: 30_000, totalMs: 250 },
      retry: { maxAttempts: 10, baseDelayMs: 1, maxDelayMs: 5, budgetMs: 600 },
    });
    const started = performance.now();
    const result = await client.createRefund({
      paymentIntentId: id,
      amount: 100,
      idempotencyKey: freshKey(),
    });
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ ok: false, error: { code: "timeout" } });
    expect(result.attempts).toBeGreaterThanOrEqual(3);
    expect(elapsed).toBeLessThan(900);
  });

  it("stops at the caller's AbortSignal with aborted and does not retry", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { hangRate: 1 } } });
    const controller = new AbortController();
    const pending = h.client().createRefund({
      paymentIntentId: id,
      amount: 100,
      idempotencyKey: freshKey(),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    const result = await pending;
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: "aborted", kind: "indeterminate" },
    });
  });

  it("ends a backoff wait at the caller's abort, reporting the last attempt's error", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { error503Rate: 1 } } });
    const controller = new AbortController();
    const client = h.client({
      retry: { maxAttempts: 5, baseDelayMs: 4000, maxDelayMs: 4000, budgetMs: 20_000 },
    });
    const started = performance.now();
    const pending = client.createRefund({
      paymentIntentId: id,
      amount: 100,
      idempotencyKey: freshKey(),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    const result = await pending;
    expect(result).toMatchObject({ ok: false, attempts: 1, error: { code: "server_error", status: 503 } });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("answers 409 in flight to a second request while the first with the same key is still processing", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { latencyMs: { min: 300, max: 300 } } } });
    const key = freshKey();
    const client = h.client({ retry: { maxAttempts: 1 } });
    const first = client.createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: key });
    await waitFor(async () => (await h.control.stats()).idempotencyKeysInFlight === 1);
    const second = await client.createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: key });
    expect(second).toMatchObject({
      ok: false,
      error: { code: "idempotency_in_flight", kind: "indeterminate", status: 409 },
    });
    expect((await first).ok).toBe(true);
    expect((await h.control.stats()).refundsCreated).toBe(1);
  });

  it("retries through 409 in flight until the first request's refund is replayed", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createRefund: { latencyMs: { min: 250, max: 250 } } } });
    const key = freshKey();
    const first = h
      .client({ retry: { maxAttempts: 1 } })
      .createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: key });
    await waitFor(async () => (await h.control.stats()).idempotencyKeysInFlight === 1);
    const patient = h.client({ retry: { maxAttempts: 20, baseDelayMs: 40, maxDelayMs: 80, budgetMs: 5000 } });
    const second = await patient.createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: key });
    const one = await first;
    expect(one.ok && second.ok).toBe(true);
    if (!one.ok || !second.ok) return;
    expect(second.attempts).toBeGreaterThan(1);
    expect(second.value.refundId).toBe(one.value.refundId);
    expect(await h.control.idempotency(key)).toMatchObject({ refundsCreated: 1 });
  });
});

describe("connection failures and operations without an idempotency key", () => {
  it("classifies a refused connection as connect_failed (retryable) and retries it", async () => {
    const port = await closedPort();
    const client = createDojoClient({
      baseUrl: `http://127.0.0.1:${port}`,
      accounts: new DojoAccounts(KEY),
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, budgetMs: 2000 },
    });
    const result = await client.createRefund({
      paymentIntentId: "pi_x",
      amount: 1,
      idempotencyKey: freshKey(),
    });
    await client.close();
    expect(result).toMatchObject({
      ok: false,
      attempts: 3,
      error: { code: "connect_failed", kind: "retryable" },
    });
  });

  it("does not retry a reversal after a 503, because a reversal carries no idempotency key", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { createReversal: { script: ["503"] } } });
    const result = await h.client().createReversal({ paymentIntentId: id });
    expect(result).toMatchObject({ ok: false, attempts: 1, error: { code: "server_error" } });
  });

  it("does not retry a capture whose connection dropped after it was applied", async () => {
    const id = await h.control.createIntent({ amount: 1000, captureMode: "Manual", status: "Authorized" });
    await h.control.setFaults({ routes: { capture: { script: ["drop_after_apply"] } } });
    const result = await h.client().capture({ paymentIntentId: id, amount: 1000 });
    expect(result).toMatchObject({ ok: false, attempts: 1, error: { code: "connection_reset" } });
    const intent = await h.client().getPaymentIntent({ paymentIntentId: id });
    expect(intent.ok && intent.value.captures).toHaveLength(1);
  });

  it("retries reads freely: a GET survives a drop and a 502", async () => {
    const id = await capturedIntent();
    await h.control.setFaults({ routes: { getPaymentIntent: { script: ["drop_after_apply", "502"] } } });
    const result = await h.client().getPaymentIntent({ paymentIntentId: id });
    expect(result).toMatchObject({ ok: true, attempts: 3, value: { id, status: "Captured" } });
  });

  it("repeats the same fault sequence for the same seed", async () => {
    const config = { seed: 99, routes: { getPaymentIntent: { error500Rate: 0.3, error503Rate: 0.2 } } };
    const id = await capturedIntent();
    const run = async () => {
      await h.control.reset();
      const intentId = await capturedIntent();
      await h.control.setFaults(config);
      const outcomes: (number | string)[] = [];
      for (let i = 0; i < 20; i++) {
        await h.client({ retry: { maxAttempts: 1 } }).getPaymentIntent({ paymentIntentId: intentId });
      }
      for (const r of await h.control.requests({ route: "getPaymentIntent" })) outcomes.push(r.outcome);
      return outcomes;
    };
    expect(id).toBeTruthy();
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(1);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
