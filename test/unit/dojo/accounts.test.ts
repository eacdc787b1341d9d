import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DojoAccounts,
  DojoConfigError,
  keyFingerprint,
  loadDojoAccounts,
  loadDojoAccountsFromEnv,
} from "../../../src/dojo/index.ts";
import { freshKey, type Harness, KEY, startHarness } from "./harness.ts";

const KEY_A = "sk_sandbox_merchant_a_secret_aaaaaaaa";
const KEY_B = "sk_prod_merchant_b_secret_bbbbbbbbbbbb";

describe("loading accounts", () => {
  const dir = mkdtempSync(join(tmpdir(), "dojo-accounts-"));

  it("takes a single default key", () => {
    const accounts = loadDojoAccounts({ apiKey: KEY });
    expect(accounts.resolve()?.authorization()).toBe(`Basic ${KEY}`);
    expect(accounts.resolve("any-merchant")?.fingerprint).toBe(keyFingerprint(KEY));
  });

  it("reads a default key from a file, ignoring the trailing newline", () => {
    const file = join(dir, "key");
    writeFileSync(file, `${KEY}\n`);
    expect(loadDojoAccounts({ apiKeyFile: file }).resolve()?.authorization()).toBe(`Basic ${KEY}`);
  });

  it("maps merchants to keys from JSON, with an optional default", () => {
    const accounts = loadDojoAccounts({
      accountsJson: JSON.stringify({ merchants: { a: KEY_A, b: KEY_B } }),
    });
    expect(accounts.resolve("a")?.authorization()).toBe(`Basic ${KEY_A}`);
    expect(accounts.resolve("b")?.environment).toBe("production");
    expect(accounts.resolve("c")).toBeUndefined();
    expect(accounts.resolve()).toBeUndefined();
    const withDefault = loadDojoAccounts({
      apiKey: KEY,
      accountsJson: JSON.stringify({ merchants: { a: KEY_A } }),
    });
    expect(withDefault.resolve("c")?.fingerprint).toBe(keyFingerprint(KEY));
  });

  it("reads the same document from a file and from the environment", () => {
    const file = join(dir, "accounts.json");
    writeFileSync(file, JSON.stringify({ default: KEY, merchants: { a: KEY_A } }));
    expect(loadDojoAccounts({ accountsFile: file }).merchantIds).toEqual(["a"]);
    const env = loadDojoAccountsFromEnv({ DOJO_ACCOUNTS_FILE: file });
    expect(env.resolve("a")?.fingerprint).toBe(keyFingerprint(KEY_A));
    expect(env.hasDefault).toBe(true);
  });

  it.each([
    ["a key without a Dojo prefix", { apiKey: "sk_test_oldstyle_secret" }],
    ["a bare prefix", { apiKey: "sk_sandbox_" }],
    ["a key with a space", { apiKey: "sk_sandbox_two words" }],
    [
      "a merchant key without prefix",
      { accountsJson: JSON.stringify({ merchants: { m: "pk_live_secret_value" } }) },
    ],
    ["invalid JSON quoting a key", { accountsJson: `{"merchants": {"m": "${KEY_A}"` }],
    ["an unknown field", { accountsJson: JSON.stringify({ keys: { m: KEY_A } }) }],
    ["nothing at all", {}],
    ["an unreadable file", { apiKeyFile: join(dir, "missing") }],
  ])("rejects %s with an error that quotes no key", (_name, source) => {
    let thrown: unknown;
    try {
      loadDojoAccounts(source);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DojoConfigError);
    const text = `${String(thrown)} ${JSON.stringify(thrown)} ${(thrown as Error).stack}`;
    for (const secret of [KEY_A, "sk_test_oldstyle_secret", "two words", "pk_live_secret_value"]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe("several accounts against the simulator", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([KEY, KEY_A, KEY_B]);
  });
  afterAll(() => h.close());

  it("sends each merchant's own key", async () => {
    const accounts = new DojoAccounts(
      undefined,
      new Map([
        ["a", KEY_A],
        ["b", KEY_B],
      ]),
    );
    const client = h.client({ accounts });
    const id = await h.control.createIntent({ amount: 1000, status: "Captured" });
    const ka = freshKey("a");
    const kb = freshKey("b");
    expect(
      (await client.createRefund({ merchantId: "a", paymentIntentId: id, amount: 1, idempotencyKey: ka })).ok,
    ).toBe(true);
    expect(
      (await client.createRefund({ merchantId: "b", paymentIntentId: id, amount: 1, idempotencyKey: kb })).ok,
    ).toBe(true);
    expect((await h.control.requests({ idempotencyKey: ka }))[0]?.account).toBe(keyFingerprint(KEY_A));
    expect((await h.control.requests({ idempotencyKey: kb }))[0]?.account).toBe(keyFingerprint(KEY_B));
  });

  it("reports a merchant without a key and no default as unknown_merchant, sending nothing", async () => {
    const client = h.client({ accounts: new DojoAccounts(undefined, new Map([["a", KEY_A]])) });
    const before = (await h.control.stats()).requestsTotal;
    const result = await client.createRefund({
      merchantId: "z",
      paymentIntentId: "pi_1",
      amount: 1,
      idempotencyKey: "k",
    });
    expect(result).toMatchObject({
      ok: false,
      attempts: 0,
      error: { code: "unknown_merchant", kind: "definitive" },
    });
    expect((await h.control.stats()).requestsTotal).toBe(before);
  });

  it("reports a key the server does not know as unauthorized, not retried", async () => {
    const client = h.client({ accounts: new DojoAccounts("sk_sandbox_not_configured_on_server") });
    const result = await client.getPaymentIntent({ paymentIntentId: "pi_1" });
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: "unauthorized", kind: "definitive", status: 401 },
    });
  });
});
