// Every request the client can send, captured at a bare HTTP server and checked against the schemas.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDojoClient, DojoAccounts, type DojoClient } from "../../../src/dojo/index.ts";
import { type OperationName, requestSchemas } from "./contract/dojo-requests.ts";

interface Captured {
  method: string;
  path: string[];
  headers: Record<string, string | undefined>;
  body: unknown;
  rawPath: string;
}

const KEY = "sk_sandbox_contract_key_1234";
const captured: Captured[] = [];
let server: Server;
let client: DojoClient;

const replies: Record<string, unknown> = {
  refunds: { paymentIntentId: "pi_1", refundId: "rfnd_1", refundReason: null, notes: null },
  reversal: { message: null, reversalId: "rvs_1" },
  captures: { message: null, captureId: "cp_1" },
  intent: { id: "pi_1", status: "Created", captureMode: "Auto", amount: { value: 1, currencyCode: "GBP" } },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      const url = req.url ?? "/";
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(",") : v;
      captured.push({
        method: req.method ?? "",
        rawPath: url,
        path: url.split("?")[0]?.split("/").slice(1).map(decodeURIComponent) ?? [],
        headers,
        body: text === "" ? undefined : JSON.parse(text),
      });
      const last = url.split("/").at(-1) ?? "";
      const body = replies[last] ?? (url.includes("/refunds/") ? replies.refunds : replies.intent);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  client = createDojoClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accounts: new DojoAccounts(KEY),
    retry: { maxAttempts: 1 },
  });
});
afterAll(async () => {
  await client.close();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  captured.length = 0;
});

function expectContract(operation: OperationName, request: Captured | undefined): void {
  expect(request, `no ${operation} request was sent`).toBeDefined();
  const result = requestSchemas[operation].safeParse(request);
  expect(result.success ? [] : result.error.issues, `${operation}: ${JSON.stringify(request)}`).toEqual([]);
}

describe("requests the client sends match Dojo's published request shapes", () => {
  it("createRefund, with and without the optional texts", async () => {
    await client.createRefund({ paymentIntentId: "pi_sandbox_1", amount: 500, idempotencyKey: "ret-1" });
    await client.createRefund({
      paymentIntentId: "pi_sandbox_1",
      amount: 1,
      refundReason: "damaged",
      notes: "order 42",
      idempotencyKey: "ret-2",
    });
    expect(captured).toHaveLength(2);
    for (const r of captured) expectContract("createRefund", r);
    expect(captured[0]?.headers.authorization).toBe(`Basic ${KEY}`);
    expect(captured[0]?.headers.version).toBe("2026-02-27");
  });

  it("getRefund, getPaymentIntent, createReversal, capture and createPaymentIntent", async () => {
    await client.getRefund({ refundId: "rfnd_1" });
    expectContract("getRefund", captured.at(-1));
    await client.getPaymentIntent({ paymentIntentId: "pi_sandbox_1" });
    expectContract("getPaymentIntent", captured.at(-1));
    await client.createReversal({ paymentIntentId: "pi_sandbox_1" });
    expectContract("createReversal", captured.at(-1));
    await client.capture({ paymentIntentId: "pi_sandbox_1", amount: 100 });
    expectContract("capture", captured.at(-1));
    await client.capture({ paymentIntentId: "pi_sandbox_1", amount: 100, tipsAmount: 10 });
    expectContract("capture", captured.at(-1));
    await client.createPaymentIntent({ amount: { value: 100, currencyCode: "GBP" }, reference: "order-1" });
    expectContract("createPaymentIntent", captured.at(-1));
    await client.createPaymentIntent({
      amount: { value: 100, currencyCode: "EUR" },
      reference: "r".repeat(60),
      captureMode: "Manual",
      description: "d",
    });
    expectContract("createPaymentIntent", captured.at(-1));
  });

  it("sends a configured API version", async () => {
    const other = createDojoClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      accounts: new DojoAccounts(KEY),
      apiVersion: "2025-09-10",
    });
    await other.getPaymentIntent({ paymentIntentId: "pi_1" });
    await other.close();
    expect(captured.at(-1)?.headers.version).toBe("2025-09-10");
  });

  it("keeps to the contract for any valid refund input (property)", async () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 100,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.option(fc.string({ maxLength: 1024 }), { nil: undefined }),
        fc.option(fc.string({ maxLength: 4096 }), { nil: undefined }),
        printable,
        async (paymentIntentId, amount, refundReason, notes, idempotencyKey) => {
          captured.length = 0;
          const result = await client.createRefund({
            paymentIntentId,
            amount,
            refundReason,
            notes,
            idempotencyKey,
          });
          expect(result.ok).toBe(true);
          expect(captured).toHaveLength(1);
          expectContract("createRefund", captured[0]);
          expect(captured[0]?.path[1]).toBe(paymentIntentId);
          expect(captured[0]?.headers.idempotencykey).toBe(idempotencyKey);
          expect(captured[0]?.body).toMatchObject({ amount });
        },
      ),
      { numRuns: 60 },
    );
  });

  it("never sends a refund whose input breaks the contract (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ amount: fc.double({ noInteger: true, noNaN: true }) }),
          fc.record({ refundReason: fc.string({ minLength: 1025, maxLength: 1100 }) }),
          fc.record({ notes: fc.string({ minLength: 4097, maxLength: 4200 }) }),
          fc.record({ idempotencyKey: fc.string({ minLength: 101, maxLength: 150 }) }),
          fc.record({ paymentIntentId: fc.string().filter((s) => !/^[A-Za-z0-9_-]{1,100}$/.test(s)) }),
        ),
        async (override) => {
          captured.length = 0;
          const input = { paymentIntentId: "pi_1", amount: 1, idempotencyKey: "k", ...override };
          const result = await client.createRefund(input);
          expect(result).toMatchObject({ ok: false, error: { code: "invalid_request" } });
          expect(captured).toHaveLength(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
