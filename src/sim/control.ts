// Typed calls to the simulator's /_sim/ routes, for tests and benchmarks.
import type { FaultConfigInput } from "./faults.ts";
import type { LoggedRequest } from "./request-log.ts";
import type { SimRefund } from "./state.ts";

export interface SimIntentSpec {
  readonly amount: number;
  readonly currencyCode?: "GBP" | "EUR";
  readonly captureMode?: "Auto" | "Manual";
  readonly status?: "Created" | "Authorized" | "Captured";
  readonly reference?: string;
  readonly sandbox?: boolean;
}

/** A refund as the simulator stores it. */
export type SimRefundRecord = SimRefund;

export interface SimIntentRefunds {
  readonly paymentIntentId: string;
  readonly status: string;
  readonly refundedAmount: number;
  readonly refunds: SimRefundRecord[];
}

export interface SimKeyCounters {
  readonly key: string;
  /** Create-refund requests that carried the key, faulted ones included. */
  readonly requests: number;
  readonly refundsCreated: number;
  readonly replays: number;
  readonly conflicts: number;
}

export interface SimStats {
  readonly uptimeMs: number;
  readonly intents: number;
  readonly refundsCreated: number;
  readonly refundedAmountTotal: number;
  readonly idempotencyKeysInFlight: number;
  readonly requestsTotal: number;
  readonly requestsByRoute: Record<string, number>;
  readonly responsesByOutcome: Record<string, number>;
  readonly faultsInjected: Record<string, number>;
}

export interface SimControl {
  createIntent(spec: SimIntentSpec): Promise<string>;
  createIntents(spec: SimIntentSpec, count: number): Promise<string[]>;
  pay(paymentIntentId: string): Promise<void>;
  refundsOf(paymentIntentId: string): Promise<SimIntentRefunds>;
  idempotency(key: string): Promise<SimKeyCounters>;
  stats(): Promise<SimStats>;
  requests(filter?: { idempotencyKey?: string; route?: string; limit?: number }): Promise<LoggedRequest[]>;
  setFaults(config: FaultConfigInput): Promise<void>;
  clearFaults(): Promise<void>;
  reset(): Promise<void>;
}

export function createSimControl(baseUrl: string): SimControl {
  const root = baseUrl.replace(/\/+$/, "");
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json" };
    }
    const res = await fetch(`${root}/_sim/${path}`, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`dojo-sim ${method} /_sim/${path} failed with HTTP ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }
  const enc = encodeURIComponent;
  return {
    async createIntent(spec) {
      const { ids } = await call<{ ids: string[] }>("POST", "payment-intents", spec);
      return ids[0] as string;
    },
    async createIntents(spec, count) {
      return (await call<{ ids: string[] }>("POST", "payment-intents", { ...spec, count })).ids;
    },
    async pay(id) {
      await call("POST", `payment-intents/${enc(id)}/pay`);
    },
    refundsOf: (id) => call("GET", `payment-intents/${enc(id)}/refunds`),
    idempotency: (key) => call("GET", `idempotency/${enc(key)}`),
    stats: () => call("GET", "stats"),
    async requests(filter = {}) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
      return (await call<{ requests: LoggedRequest[] }>("GET", `requests?${q}`)).requests;
    },
    async setFaults(config) {
      await call("PUT", "faults", config);
    },
    async clearFaults() {
      await call("DELETE", "faults");
    },
    async reset() {
      await call("POST", "reset");
    },
  };
}
