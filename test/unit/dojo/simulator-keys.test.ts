// Revoking and restoring an API key at run time: requests with a revoked key get Dojo's 401 on every
// route and change nothing; once restored the key works again with its earlier idempotency records.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { keyFingerprint } from "../../../src/dojo/accounts.ts";
import {
  createSimControl,
  type DojoSimulator,
  type SimControl,
  startDojoSimulator,
} from "../../../src/sim/index.ts";

const KEY = "sk_sandbox_keys_primary";
const OTHER = "sk_prod_keys_other";
let sim: DojoSimulator;
let control: SimControl;

beforeAll(async () => {
  sim = await startDojoSimulator({ apiKeys: [KEY, OTHER] });
  control = createSimControl(sim.url);
});
afterAll(() => sim.close());
beforeEach(() => control.reset());

async function call(method: string, path: string, key: string, body?: unknown, idempotencyKey?: string) {
  const headers: Record<string, string> = { authorization: `Basic ${key}`, version: "2026-02-27" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (idempotencyKey !== undefined) headers.idempotencyKey = idempotencyKey;
  const res = await fetch(sim.url + path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type"), text, body: JSON.parse(text) };
}

const refund = (id: string, amount: number, idempotencyKey: string, key = KEY) =>
  call("POST", `/payment-intents/${id}/refunds`, key, { amount, refundReason: "r" }, idempotencyKey);

async function simRoute(path: string, body: unknown) {
  const res = await fetch(`${sim.url}/_sim/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

describe("revoking and restoring API keys", () => {
  it("answers 401 on every Dojo route while the key is revoked, and applies nothing", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    expect(await control.revokeKey(KEY)).toEqual({ fingerprint: keyFingerprint(KEY), revoked: true });

    const replies = [
      await call("GET", `/payment-intents/${id}`, KEY),
      await refund(id, 100, "k-1"),
      await call("POST", "/payment-intents", KEY, {
        amount: { value: 100, currencyCode: "GBP" },
        reference: "r",
      }),
      await call("POST", `/payment-intents/${id}/reversal`, KEY),
      await call("GET", "/payment-intents/refunds/rf_none", KEY),
    ];
    for (const r of replies) {
      expect(r.status).toBe(401);
      expect(r.contentType).toContain("application/problem+json");
      expect(r.body).toMatchObject({ status: 401, title: "Unauthorized" });
      expect(r.text).not.toContain(KEY);
    }
    const after = await control.refundsOf(id);
    expect(after).toMatchObject({ refundedAmount: 0, status: "Captured", refunds: [] });
    expect((await control.stats()).intents).toBe(1);
    // The request log still names the account, by fingerprint only.
    const logged = await control.requests({ route: "createRefund" });
    expect(logged.map((r) => [r.outcome, r.account])).toEqual([[401, keyFingerprint(KEY)]]);
    expect(await control.idempotency("k-1")).toMatchObject({ requests: 1, refundsCreated: 0 });
  });

  it("leaves the other keys working", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    await control.revokeKey(KEY);
    expect((await call("GET", `/payment-intents/${id}`, OTHER)).status).toBe(200);
    expect((await refund(id, 100, "k-other", OTHER)).status).toBe(200);
    expect(await control.keys()).toEqual(
      expect.arrayContaining([
        { fingerprint: keyFingerprint(KEY), revoked: true },
        { fingerprint: keyFingerprint(OTHER), revoked: false },
      ]),
    );
  });

  it("works again after a restore, replaying refunds made before the revocation for their keys", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    const first = await refund(id, 300, "k-before");
    expect(first.status).toBe(200);

    await control.revokeKey(keyFingerprint(KEY));
    expect((await refund(id, 300, "k-before")).status).toBe(401);
    expect((await refund(id, 200, "k-during")).status).toBe(401);

    expect(await control.restoreKey(KEY)).toEqual({ fingerprint: keyFingerprint(KEY), revoked: false });
    const replay = await refund(id, 300, "k-before");
    expect(replay).toMatchObject({ status: 200, body: first.body });
    // The key refused while revoked left no record: it creates its refund now.
    expect((await refund(id, 200, "k-during")).status).toBe(200);
    const refunds = await control.refundsOf(id);
    expect(refunds.refundedAmount).toBe(500);
    expect(refunds.refunds.map((r) => r.idempotencyKey)).toEqual(["k-before", "k-during"]);
    expect(await control.idempotency("k-before")).toMatchObject({
      requests: 3,
      refundsCreated: 1,
      replays: 1,
    });
  });

  it("takes the raw key or the fingerprint, exactly one, and refuses keys it was not started with", async () => {
    expect(await simRoute("keys/revoke", { fingerprint: keyFingerprint(OTHER) })).toMatchObject({
      status: 200,
    });
    expect(await simRoute("keys/restore", { key: OTHER })).toMatchObject({ status: 200 });
    const unknown = await simRoute("keys/revoke", { key: "sk_sandbox_never_configured" });
    expect(unknown.status).toBe(404);
    expect(unknown.text).not.toContain("sk_sandbox_never_configured");
    expect((await simRoute("keys/revoke", { key: KEY, fingerprint: keyFingerprint(KEY) })).status).toBe(400);
    expect((await simRoute("keys/revoke", {})).status).toBe(400);
    expect((await simRoute("keys/other", { key: KEY })).status).toBe(404);
    // Restoring a key that is not revoked changes nothing.
    expect(await control.restoreKey(KEY)).toEqual({ fingerprint: keyFingerprint(KEY), revoked: false });
  });

  it("restores every key on reset", async () => {
    const id = await control.createIntent({ amount: 1000, status: "Captured" });
    await control.revokeKey(KEY);
    await control.revokeKey(OTHER);
    await control.reset();
    expect((await control.keys()).every((k) => !k.revoked)).toBe(true);
    // The reset also removed the intent; the key authenticates again (404, not 401).
    expect((await call("GET", `/payment-intents/${id}`, KEY)).status).toBe(404);
  });
});
