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

/** A configured API key, named by fingerprint only. */
export interface SimKeyState {
  readonly fingerprint: string;
  readonly revoked: boolean;
}

export interface SimControl {
  createIntent(spec: SimIntentSpec): Promise<string>;
  createIntents(spec: SimIntentSpec, count: number): Promise<string[]>;
  pay(paymentIntentId: string): Promise<void>;
  refundsOf(paymentIntentId: string): Promise<SimIntentRefunds>;
  idempotency(key: string): Promise<SimKeyCounters>;
  stats(): Promise<SimStats>;
  requests(filter?: { idempotencyKey?: string; route?: string; limit?: number }): Promise<LoggedRequest[]>;
  /**
   * Requests with the key get Dojo's 401 until it is restored. Takes the raw key or its fingerprint
   * (`key_` followed by 12 hex digits, as in the request log).
   */
  revokeKey(keyOrFingerprint: string): Promise<SimKeyState>;
  restoreKey(keyOrFingerprint: string): Promise<SimKeyState>;
  keys(): Promise<SimKeyState[]>;
  setFaults(config: FaultConfigInput): Promise<void>;
  clearFaults(): Promise<void>;
  reset(): Promise<void>;
}

/** Fingerprints look like `key_0123456789ab`; secret keys start with `sk_`, so the two never collide. */
function keyRef(ref: string): { key: string } | { fingerprint: string } {
  return /^key_[0-9a-f]{12}$/.test(ref) ? { fingerprint: ref } : { key: ref };
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
    revokeKey: (ref) => call("POST", "keys/revoke", keyRef(ref)),
    restoreKey: (ref) => call("POST", "keys/restore", keyRef(ref)),
    async keys() {
      return (await call<{ keys: SimKeyState[] }>("GET", "keys")).keys;
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
