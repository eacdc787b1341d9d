// The API key must not leak through logs, results, thrown errors, inspection or the simulator.
import { PassThrough } from "node:stream";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DojoAccounts, loadDojoAccounts } from "../../../src/dojo/index.ts";
import { createLogger } from "../../../src/logger.ts";
import { freshKey, type Harness, KEY, startHarness } from "./harness.ts";

const OTHER = "sk_prod_other_merchant_secret_zzzzzzzz";

let h: Harness;
beforeAll(async () => {
  h = await startHarness([KEY, OTHER]);
});
afterAll(() => h.close());

function expectNoSecret(text: string): void {
  expect(text).not.toContain(KEY);
  expect(text).not.toContain(OTHER);
  expect(text).not.toContain(KEY.slice("sk_sandbox_".length));
  expect(text).not.toContain(Buffer.from(`${KEY}:`).toString("base64"));
}

describe("secret handling", () => {
  it("keeps keys out of debug logs, results and errors across successes, faults and failures", async () => {
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on("data", (chunk: Buffer) => lines.push(chunk.toString()));
    const logger = createLogger({ level: "trace", destination });
    const accounts = new DojoAccounts(KEY, new Map([["m2", OTHER]]));
    const client = h.client({ accounts, logger });
    const id = await h.control.createIntent({ amount: 1000, status: "Captured" });
    await h.control.setFaults({ routes: { createRefund: { script: ["503", "drop_after_apply"] } } });
    const results = [
      await client.createRefund({ paymentIntentId: id, amount: 100, idempotencyKey: freshKey() }),
      await client.createRefund({
        merchantId: "m2",
        paymentIntentId: id,
        amount: 5000,
        idempotencyKey: freshKey(),
      }),
      await client.getPaymentIntent({ paymentIntentId: "pi_missing" }),
      await client.createRefund({ paymentIntentId: "bad id", amount: 1, idempotencyKey: "k" }),
    ];
    await h.control.clearFaults();
    expect(results.some((r) => r.ok)).toBe(true);
    expect(results.some((r) => !r.ok)).toBe(true);
    expect(lines.length).toBeGreaterThan(3);
    expectNoSecret(lines.join(""));
    expectNoSecret(JSON.stringify(results));
    expectNoSecret(inspect(results, { depth: 20 }));
  });

  it("shows only fingerprints when the accounts or the client are logged or inspected", () => {
    const accounts = loadDojoAccounts({
      apiKey: KEY,
      accountsJson: JSON.stringify({ merchants: { m2: OTHER } }),
    });
    const client = h.client({ accounts });
    expectNoSecret(JSON.stringify(accounts));
    expectNoSecret(inspect(accounts, { depth: 20, showHidden: true }));
    expectNoSecret(JSON.stringify(client));
    expectNoSecret(inspect(client, { depth: 20, showHidden: true }));
    expectNoSecret(inspect(accounts.resolve("m2"), { depth: 20, showHidden: true }));
    expectNoSecret(JSON.stringify(accounts.resolve()));
    expect(JSON.stringify(accounts)).toContain("key_");
  });

  it("removes a key that a server echoes into a problem detail", () => {
    const accounts = new DojoAccounts(KEY);
    expect(accounts.scrub(`bad key ${KEY} given`)).toBe("bad key [redacted] given");
  });

  it("keeps keys out of the simulator's request log and logs", async () => {
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on("data", (chunk: Buffer) => lines.push(chunk.toString()));
    const { startDojoSimulator, createSimControl } = await import("../../../src/sim/index.ts");
    const sim = await startDojoSimulator({
      apiKeys: [KEY],
      logger: createLogger({ level: "trace", destination }),
    });
    const client = h.client({ baseUrl: sim.url, accounts: new DojoAccounts(KEY) });
    await client.getPaymentIntent({ paymentIntentId: "pi_x" });
    const control = createSimControl(sim.url);
    const log = JSON.stringify(await control.requests());
    await client.close();
    await sim.close();
    expect(log).toContain("key_");
    expectNoSecret(log);
    expectNoSecret(lines.join(""));
  });
});
