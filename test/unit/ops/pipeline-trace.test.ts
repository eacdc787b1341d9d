// With an OpenTelemetry SDK registered (a recording stand-in), a message's trace runs: incoming span ->
// the relay's `process` CONSUMER span -> one CLIENT span per Dojo request, whose traceparent reaches
// Dojo (the simulator logs it); the outcome carries the process span's context.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDojoClient, DojoAccounts } from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { MessageWatch } from "../../../src/ops/index.ts";
import { RefundPipeline } from "../../../src/pipeline/index.ts";
import { createSimControl, type DojoSimulator, startDojoSimulator } from "../../../src/sim/index.ts";
import { returnApproved } from "../../support/events.ts";
import { FakeSink, SETTINGS } from "../pipeline/fakes.ts";
import { registerRecordingProvider } from "./recording-tracer.ts";

const provider = registerRecordingProvider();
const KEY = "sk_sandbox_trace_tests";
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID = "b7ad6b7169203331";

let sim: DojoSimulator;
let sink: FakeSink;
let watch: MessageWatch;
let close: () => Promise<void>;

beforeAll(async () => {
  sim = await startDojoSimulator({ apiKeys: [KEY] });
  const ledger = new SqliteLedger({ path: ":memory:" });
  const dojo = createDojoClient({ baseUrl: sim.url, accounts: new DojoAccounts(KEY) });
  sink = new FakeSink();
  const pipeline = new RefundPipeline(SETTINGS, { ledger, dojo, sink, logger: silentLogger });
  watch = new MessageWatch(pipeline, {
    destination: "return.approved",
    describe: () => ({ "messaging.system": "kafka", "messaging.operation.type": "process" }),
  });
  close = async () => {
    await dojo.close();
    await ledger.close();
    await sim.close();
  };
});
afterAll(() => close?.());

function message(event: ReturnType<typeof returnApproved>, headers: Record<string, string> = {}) {
  return {
    body: JSON.stringify(event),
    headers: { "content-type": "application/cloudevents+json", ...headers },
    transport: "kafka" as const,
  };
}

describe("tracing with an SDK", () => {
  it("makes the process span a child of the incoming span and each Dojo request a child of it", async () => {
    const pi = await createSimControl(sim.url).createIntent({ amount: 5_000, status: "Captured" });
    const result = await watch.process(
      message(returnApproved({ paymentIntentId: pi, amount: 1_200 }), {
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
      }),
      {},
    );
    expect(result.status).toBe("published");

    const processSpan = provider.spans.find((s) => s.parentSpanId === PARENT_ID);
    expect(processSpan).toMatchObject({
      name: "process return.approved",
      kind: 4, // CONSUMER
      ended: true,
      attributes: {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "refund_relay.result": "published",
        "refund_relay.outcome.type": "refund.succeeded",
      },
    });
    const processId = processSpan?.spanContext().spanId;
    expect(processSpan?.spanContext().traceId).toBe(TRACE_ID);

    const requests = provider.spans.filter((s) => s.parentSpanId === processId);
    expect(requests.map((s) => s.name)).toEqual([
      "GET /payment-intents/{paymentIntentId}",
      "POST /payment-intents/{paymentIntentId}/refunds",
    ]);
    for (const span of requests) {
      expect(span.kind).toBe(2); // CLIENT
      expect(span.ended).toBe(true);
      expect(span.spanContext().traceId).toBe(TRACE_ID);
    }
    const refundSpan = requests[1];
    expect(refundSpan?.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.response.status_code": 200,
      "refund_relay.dojo.operation": "createRefund",
    });

    // Dojo saw the refund request's own span as the parent.
    const logged = await createSimControl(sim.url).requests({ route: "createRefund" });
    expect(logged.at(-1)?.traceparent).toBe(`00-${TRACE_ID}-${refundSpan?.spanContext().spanId}-01`);

    // The outcome continues the trace from the process span.
    expect(sink.published.at(-1)?.traceparent).toBe(`00-${TRACE_ID}-${processId}-01`);
  });

  it("starts a trace for a message that arrives without one", async () => {
    const pi = await createSimControl(sim.url).createIntent({ amount: 5_000, status: "Captured" });
    const before = provider.spans.length;
    await watch.process(message(returnApproved({ paymentIntentId: pi, amount: 700 })), {});
    const processSpan = provider.spans.slice(before).find((s) => s.name === "process return.approved");
    expect(processSpan?.parentSpanId).toBeUndefined();
    const sc = processSpan?.spanContext();
    expect(sink.published.at(-1)?.traceparent).toBe(`00-${sc?.traceId}-${sc?.spanId}-01`);
  });
});
