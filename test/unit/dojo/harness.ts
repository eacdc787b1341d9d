// Starts an in-process simulator on a random port and a client pointed at it.
import {
  createDojoClient,
  DojoAccounts,
  type DojoClient,
  type DojoClientOptions,
} from "../../../src/dojo/index.ts";
import {
  createSimControl,
  type DojoSimulator,
  type SimControl,
  startDojoSimulator,
} from "../../../src/sim/index.ts";

export const KEY = "sk_sandbox_harness_secret_0123456789";

export interface Harness {
  readonly sim: DojoSimulator;
  readonly control: SimControl;
  client(overrides?: Partial<DojoClientOptions>): DojoClient;
  close(): Promise<void>;
}

export async function startHarness(apiKeys: string[] = [KEY]): Promise<Harness> {
  const sim = await startDojoSimulator({ apiKeys, seed: 7 });
  const clients: DojoClient[] = [];
  return {
    sim,
    control: createSimControl(sim.url),
    client(overrides = {}) {
      const client = createDojoClient({
        baseUrl: sim.url,
        accounts: new DojoAccounts(KEY),
        timeouts: { connectMs: 1000, headersMs: 2000, bodyMs: 2000, totalMs: 5000 },
        retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5000 },
        random: () => 0.5,
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await sim.close();
    },
  };
}

let counter = 0;
/** A fresh idempotency key per call, so tests never share one. */
export function freshKey(label = "ret"): string {
  counter += 1;
  return `${label}-${process.pid}-${Date.now()}-${counter}`;
}
