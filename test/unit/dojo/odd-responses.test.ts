// Responses the simulator never sends: plain application/json problems, HTML, bodies without the ids we
// rely on, stalled bodies, and the connection reuse of the per-account pools.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDojoClient, DojoAccounts, type DojoClientOptions } from "../../../src/dojo/index.ts";

type Script = (req: IncomingMessage, res: ServerResponse) => void;
const KEY_A = "sk_sandbox_odd_a";
const KEY_B = "sk_sandbox_odd_b";
let server: Server;
let script: Script[] = [];
let connections = 0;
let baseUrl = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const step = script.shift();
      if (step) step(req, res);
      else json(res, 500, { title: "script exhausted" });
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  script = [];
});

function json(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  res.writeHead(status, { "content-type": type });
  res.end(JSON.stringify(body));
}

function client(overrides: Partial<DojoClientOptions> = {}) {
  return createDojoClient({
    baseUrl,
    accounts: new DojoAccounts(KEY_A, new Map([["b", KEY_B]])),
    retry: { maxAttempts: 1 },
    ...overrides,
  });
}

const refundInput = { paymentIntentId: "pi_1", amount: 1, idempotencyKey: "k-1" };

describe("responses outside the simulator's repertoire", () => {
  it("parses a problem sent as plain application/json, keeping traceId and errors", async () => {
    script = [
      (_q, res) =>
        json(res, 400, {
          type: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
          title: "One or more validation errors occurred.",
          status: 400,
          traceId: "00-aaaabbbbccccddddeeeeffff00001111-2222333344445555-01",
          errors: { Amount: ["The Amount field is required."] },
        }),
    ];
    const c = client();
    const r = await c.createRefund(refundInput);
    await c.close();
    expect(r).toMatchObject({
      ok: false,
      error: {
        code: "bad_request",
        problem: {
          traceId: "00-aaaabbbbccccddddeeeeffff00001111-2222333344445555-01",
          errors: { Amount: ["The Amount field is required."] },
        },
      },
    });
  });

  it.each([
    [403, "forbidden"],
    [405, "method_not_allowed"],
    [410, "client_error"],
    [422, "unprocessable"],
  ])("reports HTTP %i as %s (definitive) without retrying", async (status, code) => {
    script = [(_q, res) => json(res, status, { title: "refused", status }, "application/problem+json")];
    const c = client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 1000 } });
    const r = await c.createRefund(refundInput);
    await c.close();
    expect(r).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code, kind: "definitive", status, problem: { title: "refused" } },
    });
  });

  it("tolerates an HTML 502 from a gateway: server_error without problem details", async () => {
    script = [
      (_q, res) => {
        res.writeHead(502, { "content-type": "text/html" });
        res.end("<html><body>Bad Gateway</body></html>");
      },
    ];
    const c = client();
    const r = await c.createRefund(refundInput);
    await c.close();
    expect(r).toMatchObject({
      ok: false,
      error: { code: "server_error", kind: "indeterminate", status: 502 },
    });
    expect(r.ok || r.error.problem).toBeUndefined();
  });

  it("treats a 200 without refundId as unexpected_response and retries it with the same key", async () => {
    const keys: (string | undefined)[] = [];
    const record = (req: IncomingMessage) => keys.push(req.headers.idempotencykey as string | undefined);
    script = [
      (req, res) => {
        record(req);
        json(res, 200, { message: "Refund accepted" });
      },
      (req, res) => {
        record(req);
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<p>ok</p>");
      },
      (req, res) => {
        record(req);
        json(res, 200, { refundId: "rfnd_after_retry", message: "ok" });
      },
    ];
    const c = client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 1000 } });
    const r = await c.createRefund(refundInput);
    await c.close();
    expect(r).toMatchObject({ ok: true, attempts: 3, value: { refundId: "rfnd_after_retry" } });
    expect(keys).toEqual(["k-1", "k-1", "k-1"]);
  });

  it("reads a reversal answered as {id} (the spec's own example)", async () => {
    script = [(_q, res) => json(res, 200, { id: "rvs_127usj" })];
    const c = client();
    const r = await c.createReversal({ paymentIntentId: "pi_1" });
    await c.close();
    expect(r).toMatchObject({ ok: true, value: { reversalId: "rvs_127usj" } });
  });

  it("reads a body that arrives in several chunks, and one that starts with a byte order mark", async () => {
    script = [
      (_q, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"refundId":"rfnd_');
        setTimeout(() => res.end('chunked","message":"ok"}'), 20);
      },
      (_q, res) => {
        res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
        res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"refundId":"rfnd_bom"}')]));
      },
    ];
    const c = client();
    expect(await c.createRefund(refundInput)).toMatchObject({
      ok: true,
      value: { refundId: "rfnd_chunked" },
    });
    expect(await c.createRefund(refundInput)).toMatchObject({ ok: true, value: { refundId: "rfnd_bom" } });
    await c.close();
  });

  it("reports a body that stalls after the headers as timeout", async () => {
    script = [
      (_q, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"refundId":');
      },
    ];
    const c = client({ timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 100, totalMs: 300 } });
    const r = await c.createRefund(refundInput);
    await c.close();
    expect(r).toMatchObject({ ok: false, error: { code: "timeout", kind: "indeterminate" } });
  });

  it("reports a connection closed mid-body as connection_reset", async () => {
    script = [
      (_q, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
        res.write('{"refundId":');
        setTimeout(() => res.destroy(), 20);
      },
    ];
    const c = client();
    const r = await c.createRefund(refundInput);
    await c.close();
    expect(r).toMatchObject({ ok: false, error: { code: "connection_reset", kind: "indeterminate" } });
  });
});

describe("deadlines", () => {
  it("closes the connection when the total deadline fires, so the server sees the request cancelled", async () => {
    let serverSawClose: () => void = () => {};
    const closed = new Promise<void>((resolve) => {
      serverSawClose = resolve;
    });
    script = [(_q, res) => res.on("close", () => serverSawClose())];
    const c = client({ timeouts: { connectMs: 1000, headersMs: 30_000, bodyMs: 30_000, totalMs: 150 } });
    const started = performance.now();
    const r = await c.createRefund(refundInput);
    expect(r).toMatchObject({ ok: false, error: { code: "timeout" } });
    await closed;
    expect(performance.now() - started).toBeLessThan(1000);
    await c.close();
  });
});

describe("connection pools", () => {
  it("keeps connections alive for reuse, with a separate pool per account", async () => {
    const intent = { id: "pi_1", status: "Captured" };
    script = Array.from(
      { length: 20 },
      () => (_q: IncomingMessage, res: ServerResponse) => json(res, 200, intent),
    );
    const c = client({ connections: 4 });
    const start = connections;
    for (let i = 0; i < 10; i++)
      expect((await c.getPaymentIntent({ paymentIntentId: "pi_1" })).ok).toBe(true);
    const afterA = connections;
    for (let i = 0; i < 10; i++) {
      expect((await c.getPaymentIntent({ merchantId: "b", paymentIntentId: "pi_1" })).ok).toBe(true);
    }
    const afterB = connections;
    await c.close();
    // Ten sequential calls need one or two sockets (undici may open a second while the first settles).
    expect(afterA - start).toBeGreaterThanOrEqual(1);
    expect(afterA - start).toBeLessThanOrEqual(2);
    // The second account cannot borrow the first account's sockets.
    expect(afterB - afterA).toBeGreaterThanOrEqual(1);
    expect(afterB - afterA).toBeLessThanOrEqual(2);
  });
});
