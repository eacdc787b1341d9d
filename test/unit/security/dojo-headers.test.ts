// Nothing a message carries can become a header of its own in a request to Dojo. A recording proxy in
// front of the Dojo simulator (both on loopback) sees every request as Node's HTTP parser splits it: a
// CR/LF smuggled into a trace header, an idempotency key or any header value would show up as an extra
// header there. The relay drops or refuses such values before undici, and undici refuses them as well.
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDojoClient, DojoAccounts, type DojoClient } from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { MessageWatch } from "../../../src/ops/index.ts";
import { RefundPipeline } from "../../../src/pipeline/index.ts";
import { createSimControl, type DojoSimulator, startDojoSimulator } from "../../../src/sim/index.ts";
import { returnApproved } from "../../support/events.ts";
import { FakeSink, SETTINGS } from "../pipeline/fakes.ts";

const KEY = "sk_sandbox_header_tests";
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const CRLF = "\r\nX-Injected: yes";

/** The headers the Dojo client sends, as Node's parser reads them, lowercase. */
const EXPECTED_HEADERS = new Set([
  "host",
  "connection",
  "content-length",
  "content-type",
  "accept",
  "authorization",
  "version",
  "idempotencykey",
  "traceparent",
  "tracestate",
]);

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

let sim: DojoSimulator;
let proxy: Server;
let proxyUrl: string;
const seen: Seen[] = [];
let dojo: DojoClient;
let ledger: SqliteLedger;
let sink: FakeSink;
let watch: MessageWatch;

beforeAll(async () => {
  sim = await startDojoSimulator({ apiKeys: [KEY] });
  const target = new URL(sim.url);
  proxy = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: { ...req.headers } });
    const forward = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  dojo = createDojoClient({ baseUrl: proxyUrl, accounts: new DojoAccounts(KEY) });
  ledger = new SqliteLedger({ path: ":memory:" });
  sink = new FakeSink();
  const pipeline = new RefundPipeline(SETTINGS, { ledger, dojo, sink, logger: silentLogger });
  watch = new MessageWatch(pipeline, { destination: "return.approved", describe: () => ({}) });
});

afterAll(async () => {
  await dojo?.close();
  await ledger?.close();
  await new Promise((resolve) => proxy?.close(resolve));
  await sim?.close();
});

beforeEach(() => {
  seen.length = 0;
});

function expectNoInjectedHeader(requests: readonly Seen[]): void {
  for (const request of requests) {
    for (const [name, value] of Object.entries(request.headers)) {
      expect(EXPECTED_HEADERS.has(name), `unexpected header ${name}`).toBe(true);
      expect(String(value)).not.toMatch(/[\r\n]|X-Injected/i);
    }
  }
}

describe("headers sent to Dojo", () => {
  it("drops a tracestate entry with CR/LF and keeps the trace, the refund goes through once", async () => {
    const pi = await createSimControl(sim.url).createIntent({ amount: 5_000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 1_200 });
    const result = await watch.process(
      {
        body: JSON.stringify(event),
        headers: {
          "content-type": "application/cloudevents+json",
          traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01`,
          tracestate: `vendor=ok,evil=1${CRLF}`,
        },
        transport: "kafka",
      },
      {},
    );
    expect(result.status).toBe("published");
    expect(sink.published.at(-1)?.type).toBe("refund.succeeded");
    const refunds = seen.filter((r) => r.method === "POST");
    expect(refunds).toHaveLength(1);
    expect(refunds[0]?.headers.tracestate).toBe("vendor=ok");
    expect(String(refunds[0]?.headers.traceparent)).toContain(TRACE_ID);
    expectNoInjectedHeader(seen);
  });

  it("ignores a traceparent with CR/LF: no trace, no header from it", async () => {
    const pi = await createSimControl(sim.url).createIntent({ amount: 5_000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 800 });
    const result = await watch.process(
      {
        body: JSON.stringify(event),
        headers: {
          "content-type": "application/cloudevents+json",
          traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01${CRLF}`,
          ce_traceparent: `00-${TRACE_ID}${CRLF}-b7ad6b7169203331-01`,
        },
        transport: "kafka",
      },
      {},
    );
    expect(result.status).toBe("published");
    expect(seen.length).toBeGreaterThan(0);
    expectNoInjectedHeader(seen);
  });

  it("refuses an idempotency key with CR/LF before anything is sent", async () => {
    const result = await dojo.createRefund({
      paymentIntentId: "pi_sandbox_x",
      amount: 100,
      idempotencyKey: `rr:abc${CRLF}`,
    });
    expect(result).toMatchObject({ ok: false, attempts: 0, error: { code: "invalid_request" } });
    expect(result.ok ? "" : result.error.message).toContain("idempotencyKey must be printable ASCII");
    expect(seen).toEqual([]);
  });

  it("refuses a payment intent id that would change the path before anything is sent", async () => {
    for (const paymentIntentId of [`pi_1${CRLF}`, "pi_1/../../admin", "pi_1 HTTP/1.1"]) {
      const result = await dojo.getPaymentIntent({ paymentIntentId });
      expect(result).toMatchObject({ ok: false, attempts: 0, error: { code: "invalid_request" } });
    }
    expect(seen).toEqual([]);
  });

  it("undici itself refuses CR/LF in a header name or value: nothing reaches the server", async () => {
    const pool = new Pool(proxyUrl);
    try {
      for (const headers of [
        { idempotencyKey: `rr:abc${CRLF}` },
        { tracestate: `a=b${CRLF}` },
        { [`x-name${CRLF}`]: "v" },
      ]) {
        await expect(pool.request({ path: "/", method: "POST", headers, body: "{}" })).rejects.toMatchObject({
          code: "UND_ERR_INVALID_ARG",
        });
      }
    } finally {
      await pool.close();
    }
    expect(seen).toEqual([]);
  });
});
