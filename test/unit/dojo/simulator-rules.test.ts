// The simulator enforces Dojo's documented rules; these tests talk to it with plain fetch.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createSimControl,
  type DojoSimulator,
  type SimControl,
  startDojoSimulator,
} from "../../../src/sim/index.ts";

const KEY = "sk_sandbox_rules";
let sim: DojoSimulator;
let control: SimControl;

beforeAll(async () => {
  sim = await startDojoSimulator({ apiKeys: [KEY, "sk_prod_rules"] });
  control = createSimControl(sim.url);
});
afterAll(() => sim.close());
beforeEach(() => control.reset());

interface Sent {
  status: number;
  contentType: string | null;
  body: Record<string, unknown>;
}

async function send(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string | undefined>; raw?: string } = {},
): Promise<Sent> {
  const headers: Record<string, string> = {};
  const all = { authorization: `Basic ${KEY}`, version: "2026-02-27", ...options.headers };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) headers[k] = v;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(sim.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    body: text ? JSON.parse(text) : {},
  };
}

const refund = (id: string, body: unknown, key = "key-1", headers: Record<string, string | undefined> = {}) =>
  send("POST", `/payment-intents/${id}/refunds`, { body, headers: { idempotencyKey: key, ...headers } });

describe("authentication and headers", () => {
  it("accepts the raw key after Basic and refuses base64, unknown keys and a missing header with 401", async () => {
    const id = await control.createIntent({ amount: 100 });
    expect((await send("GET", `/payment-intents/${id}`)).status).toBe(200);
    const b64 = Buffer.from(`${KEY}:`).toString("base64");
    const refusals = [
      await send("GET", `/payment-intents/${id}`, { headers: { authorization: `Basic ${b64}` } }),
      await send("GET", `/payment-intents/${id}`, { headers: { authorization: "Basic sk_sandbox_other" } }),
      await send("GET", `/payment-intents/${id}`, { headers: { authorization: "Basic sk_test_legacy" } }),
      await send("GET", `/payment-intents/${id}`, { headers: { authorization: `Bearer ${KEY}` } }),
      await send("GET", `/payment-intents/${id}`, { headers: { authorization: undefined } }),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(401);
      expect(r.contentType).toContain("application/problem+json");
      expect(JSON.stringify(r.body)).not.toContain(KEY);
    }
    expect(refusals[0]?.body.detail).toContain("not its base64");
  });

  it("requires the version header and a published version", async () => {
    const id = await control.createIntent({ amount: 100 });
    const missing = await send("GET", `/payment-intents/${id}`, { headers: { version: undefined } });
    expect(missing).toMatchObject({ status: 400, body: { errors: { version: [expect.any(String)] } } });
    expect((await send("GET", `/payment-intents/${id}`, { headers: { version: "2030-01-01" } })).status).toBe(
      400,
    );
    expect((await send("GET", `/payment-intents/${id}`, { headers: { version: "2024-02-05" } })).status).toBe(
      200,
    );
  });

  it("requires idempotencyKey on refunds, at most 100 characters, in any header case", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    const none = await send("POST", `/payment-intents/${id}/refunds`, { body: { amount: 1 } });
    expect(none).toMatchObject({ status: 400, body: { errors: { idempotencyKey: ["is required"] } } });
    expect((await refund(id, { amount: 1 }, "k".repeat(101))).status).toBe(400);
    expect((await refund(id, { amount: 1 }, "k".repeat(100))).status).toBe(200);
    const upper = await send("POST", `/payment-intents/${id}/refunds`, {
      body: { amount: 1 },
      headers: { IdempotencyKey: "upper-case" },
    });
    expect(upper.status).toBe(200);
  });

  it("requires Content-Type application/json on bodies", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    const r = await refund(id, { amount: 1 }, "k", { "content-type": "text/plain" });
    expect(r).toMatchObject({ status: 400, body: { errors: { "content-type": [expect.any(String)] } } });
  });

  it("answers unknown paths with 404 and wrong methods with 405", async () => {
    expect((await send("GET", "/payments")).status).toBe(404);
    expect((await send("DELETE", "/payment-intents/pi_1/refunds")).status).toBe(405);
    expect((await send("GET", "/payment-intents/pi_1/reversal")).status).toBe(405);
  });
});

describe("request bodies checked like the published schema", () => {
  it.each([
    ["an extra property", { amount: 1, currency: "GBP" }, "currency"],
    ["a fractional amount", { amount: 1.5 }, "amount"],
    ["a string amount", { amount: "1" }, "amount"],
    ["a Money object as amount", { amount: { value: 1, currencyCode: "GBP" } }, "amount"],
    ["no amount", { notes: "x" }, "amount"],
    ["a zero amount", { amount: 0 }, "amount"],
    ["a 1025-character reason", { amount: 1, refundReason: "r".repeat(1025) }, "refundReason"],
    ["4097-character notes", { amount: 1, notes: "n".repeat(4097) }, "notes"],
    [
      "a 101-character previousTransactionId",
      { amount: 1, previousTransactionId: "p".repeat(101) },
      "previousTransactionId",
    ],
  ])("refuses a refund with %s (400, errors.%s)", async (_name, body, field) => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    const r = await refund(id, body);
    expect(r.status).toBe(400);
    expect(Object.keys(r.body.errors as object)).toContain(field);
    expect((await control.stats()).refundsCreated).toBe(0);
  });

  it("accepts null for the nullable texts", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    expect((await refund(id, { amount: 1, refundReason: null, notes: null })).status).toBe(200);
  });

  it("refuses invalid JSON", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    const r = await send("POST", `/payment-intents/${id}/refunds`, {
      raw: "{amount:",
      headers: { "content-type": "application/json", idempotencyKey: "k" },
    });
    expect(r.status).toBe(400);
  });

  it("checks payment intent creation: amount as Money, reference 1-60, GBP or EUR", async () => {
    const ok = await send("POST", "/payment-intents", {
      body: { amount: { value: 500, currencyCode: "GBP" }, reference: "o-1" },
    });
    expect(ok).toMatchObject({
      status: 200,
      body: { status: "Created", captureMode: "Auto", refundedAmount: 0 },
    });
    expect(String(ok.body.id)).toMatch(/^pi_sandbox_/);
    for (const body of [
      { amount: 500, reference: "o-1" },
      { amount: { value: 500, currencyCode: "USD" }, reference: "o-1" },
      { amount: { value: 500, currencyCode: "GBP" }, reference: "" },
      { amount: { value: 500, currencyCode: "GBP" }, reference: "r".repeat(61) },
      { amount: { value: 500, currencyCode: "GBP" }, reference: "o", colour: "red" },
    ]) {
      expect((await send("POST", "/payment-intents", { body })).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("payment intent state rules", () => {
  it("refunds only captured intents and never above the captured amount", async () => {
    const created = await control.createIntent({ amount: 1000 });
    expect((await refund(created, { amount: 1 })).status).toBe(409);
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    expect((await refund(id, { amount: 600 }, "a")).status).toBe(200);
    expect((await refund(id, { amount: 401 }, "b")).status).toBe(400);
    expect((await refund(id, { amount: 400 }, "c")).status).toBe(200);
    expect((await refund(id, { amount: 1 }, "d")).status).toBe(400);
    const intent = await send("GET", `/payment-intents/${id}`);
    expect(intent.body).toMatchObject({ status: "Refunded", refundedAmount: 1000 });
  });

  it("pays Auto intents straight to Captured and Manual ones to Authorized", async () => {
    const auto = await control.createIntent({ amount: 100 });
    const manual = await control.createIntent({ amount: 100, captureMode: "Manual" });
    await control.pay(auto);
    await control.pay(manual);
    expect((await send("GET", `/payment-intents/${auto}`)).body.status).toBe("Captured");
    expect((await send("GET", `/payment-intents/${manual}`)).body.status).toBe("Authorized");
  });

  it("captures Manual intents partly or fully, and refuses captures on Auto or refunded intents", async () => {
    const id = await control.createIntent({ amount: 1000, captureMode: "Manual", status: "Authorized" });
    const first = await send("POST", `/payment-intents/${id}/captures`, { body: { amount: 400 } });
    expect(first.status).toBe(200);
    expect(String(first.body.captureId)).toMatch(/^cp_/);
    expect((await send("POST", `/payment-intents/${id}/captures`, { body: { amount: 601 } })).status).toBe(
      400,
    );
    expect((await refund(id, { amount: 400 })).status).toBe(200);
    expect((await send("POST", `/payment-intents/${id}/captures`, { body: { amount: 100 } })).status).toBe(
      409,
    );
    const auto = await control.createIntent({ amount: 1000, status: "Captured" });
    expect((await send("POST", `/payment-intents/${auto}/captures`, { body: { amount: 1 } })).status).toBe(
      409,
    );
    expect(
      (await send("POST", `/payment-intents/${auto}/captures`, { body: { amount: 1, extra: 1 } })).status,
    ).toBe(400);
  });

  it.each([
    ["Auto", "Captured", 200],
    ["Auto", "Created", 409],
    ["Manual", "Authorized", 200],
    ["Manual", "Captured", 409],
    ["Manual", "Created", 409],
  ] as const)("reverses a %s intent in status %s with HTTP %i", async (captureMode, status, expected) => {
    const id = await control.createIntent({ amount: 1000, captureMode, status });
    const r = await send("POST", `/payment-intents/${id}/reversal`);
    expect(r.status).toBe(expected);
    if (expected === 200) {
      expect(String(r.body.reversalId)).toMatch(/^rvs_/);
      expect((await send("GET", `/payment-intents/${id}`)).body.status).toBe("Reversed");
      expect((await send("POST", `/payment-intents/${id}/reversal`)).status).toBe(409);
    }
  });

  it("refuses a reversal once anything was refunded, and a reversal with a body", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    expect((await send("POST", `/payment-intents/${id}/reversal`, { raw: "{}" })).status).toBe(400);
    await refund(id, { amount: 1 });
    expect((await send("POST", `/payment-intents/${id}/reversal`)).status).toBe(409);
  });

  it("retrieves a refund by id on the non-nested path", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    const created = await refund(id, { amount: 5, notes: "n" });
    const got = await send("GET", `/payment-intents/refunds/${created.body.refundId}`);
    expect(got).toMatchObject({
      status: 200,
      body: { refundId: created.body.refundId, paymentIntentId: id, notes: "n" },
    });
    expect((await send("GET", "/payment-intents/refunds/rfnd_unknown")).status).toBe(404);
    expect((await send("GET", `/payment-intents/refunds/${"r".repeat(51)}`)).status).toBe(400);
  });

  it("scopes idempotency keys per account", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    expect((await refund(id, { amount: 1 }, "shared")).status).toBe(200);
    const prod = await refund(id, { amount: 1 }, "shared", { authorization: "Basic sk_prod_rules" });
    expect(prod.status).toBe(200);
    expect(await control.idempotency("shared")).toMatchObject({ requests: 2, refundsCreated: 2 });
  });

  it("frees a key whose request failed, so a corrected request may use it", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    expect((await refund(id, { amount: 5000 }, "retry-me")).status).toBe(400);
    expect((await refund(id, { amount: 500 }, "retry-me")).status).toBe(200);
  });
});

describe("control routes", () => {
  it("creates many intents at once and resets everything", async () => {
    const ids = await control.createIntents({ amount: 10, status: "Captured" }, 500);
    expect(new Set(ids).size).toBe(500);
    expect((await control.stats()).intents).toBe(500);
    await control.reset();
    expect(await control.stats()).toMatchObject({ intents: 0, refundsCreated: 0, requestsTotal: 0 });
  });

  it("refuses an invalid fault configuration", async () => {
    const res = await fetch(`${sim.url}/_sim/faults`, {
      method: "PUT",
      body: JSON.stringify({ routes: { createRefund: { error500Rate: 2 } } }),
    });
    expect(res.status).toBe(400);
  });
});
