// /readyz follows the Kafka broker: the relay reaches the shared broker only through a TCP proxy (every
// connection, the advertised broker address included, goes through it), and stopping the proxy takes
// the broker away from this relay alone. Unready while it is gone, ready again once it is back, and
// the relay then goes on refunding.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";
import { freePort, TcpProxy } from "../../support/tcp-proxy.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;
let proxy: TcpProxy;
let base: string;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers }).setUp();
  proxy = await new TcpProxy(kafkaBrokers[0] as string).start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await h.startRelay(
    {
      KAFKA_BROKERS: `127.0.0.1:${proxy.port}`,
      HTTP_PORT: String(port),
      HTTP_HOST: "127.0.0.1",
      KAFKA_TOPIC_CHECK_MS: "1000",
    },
    {
      kafkaSocketFactory: ({ onConnect }) => {
        const socket = connect({ host: "127.0.0.1", port: proxy.port }, onConnect);
        socket.setKeepAlive(true, 60_000);
        return socket;
      },
    },
  );
});
afterAll(async () => {
  await proxy?.stop();
  await h?.tearDown();
});

async function readyz(): Promise<{ status: number; reasons: string[] }> {
  const res = await fetch(`${base}/readyz`);
  const body = (await res.json()) as { reasons: string[] };
  return { status: res.status, reasons: body.reasons };
}

describe("readiness when the Kafka broker goes away", () => {
  it("turns unready while the broker is unreachable and ready again once it is back", async () => {
    await expect.poll(async () => (await readyz()).status, { timeout: 30_000 }).toBe(200);

    await proxy.stop();
    await expect.poll(async () => (await readyz()).status, { timeout: 45_000, interval: 250 }).toBe(503);
    const down = await readyz();
    expect(down.reasons.join("; ")).toMatch(/Kafka/);
    // Liveness is not readiness: the process is fine, it only cannot reach its broker.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    await proxy.start();
    await expect.poll(async () => (await readyz()).status, { timeout: 60_000, interval: 500 }).toBe(200);

    const pi = await h.dojo.createIntent({ amount: 1_500, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 1_500 });
    await h.produce([structuredRecord(event)]);
    await h.waitFor(() => h.outcomesOf(event.id).length > 0, "a refund after the broker came back");
    expect(h.outcomesOf(event.id)[0]?.json?.type).toBe("refund.succeeded");
  });
});
