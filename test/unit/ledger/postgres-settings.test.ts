// The PostgreSQL ledger's settings without a server: LEDGER_URL parsing, TLS defaults, and the rule
// that a password never shows in the configuration, a log line or an error message.
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadLedgerConfig } from "../../../src/config.ts";
import { openLedger } from "../../../src/ledger/index.ts";
import { BatchQueue } from "../../../src/ledger/postgres-batch.ts";
import { connectionTarget } from "../../../src/ledger/postgres-pool.ts";
import {
  isLocalHost,
  parsePostgresUrl,
  redactLedgerUrl,
  resolveSslMode,
} from "../../../src/ledger/postgres-settings.ts";

const PASSWORD = "Sup3r-Secret-Ledger-Pw";
const BASE = { KAFKA_BROKERS: "localhost:9092", DOJO_API_KEY: "sk_sandbox_Zq7LongSecretValue42" };

function problemsOf(env: Record<string, string>, files: Record<string, string> = {}): readonly string[] {
  try {
    loadLedgerConfig(env, (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return text;
    });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("LEDGER_URL for PostgreSQL", () => {
  it("reads user, password, host, port, database and the supported parameters", () => {
    const url = parsePostgresUrl(
      `postgresql://relay%40ops:${encodeURIComponent("p@ss:w/rd")}@db.internal:6432/refunds?sslmode=verify-ca&application_name=rr&options=-c%20search_path%3Dledger`,
    );
    expect(url).toEqual({
      host: "db.internal",
      port: 6432,
      user: "relay@ops",
      password: "p@ss:w/rd",
      database: "refunds",
      sslmode: "verify-ca",
      applicationName: "rr",
      options: "-c search_path=ledger",
    });
    expect(parsePostgresUrl("postgres://[::1]/x")).toMatchObject({
      host: "::1",
      port: 5432,
      user: undefined,
    });
    expect(parsePostgresUrl("postgres://%2Fvar%2Frun%2Fpostgresql/x").host).toBe("/var/run/postgresql");
  });

  it("refuses what it would otherwise ignore or misread", () => {
    expect(() => parsePostgresUrl("postgres://db/x?sslmode=prefer")).toThrow(/sslmode must be one of/);
    expect(() => parsePostgresUrl("postgres://db/x?password=pw&connect_timeout=3")).toThrow(
      /unsupported parameters password, connect_timeout/,
    );
    expect(() => parsePostgresUrl("postgres:///x")).toThrow(/host is required/);
    expect(() => parsePostgresUrl("postgres://db/a/b")).toThrow(/just the database name/);
  });

  it("uses TLS with full verification for a remote host unless told otherwise, none on loopback", () => {
    const mode = (url: string, setting?: "disable" | "require") =>
      resolveSslMode(parsePostgresUrl(url), setting);
    expect(mode("postgres://db.example.com/x")).toBe("verify-full");
    expect(mode("postgres://10.0.0.5/x")).toBe("verify-full");
    expect(mode("postgres://127.0.0.1/x")).toBe("disable");
    expect(mode("postgres://localhost/x")).toBe("disable");
    expect(mode("postgres://db.example.com/x?sslmode=require")).toBe("require");
    expect(mode("postgres://db.example.com/x?sslmode=require", "disable")).toBe("disable");
    expect(isLocalHost("/var/run/postgresql")).toBe(true);
    expect(isLocalHost("128.0.0.1")).toBe(false);
  });

  it("maps the TLS modes onto the connection", () => {
    const ssl = (mode: "disable" | "require" | "verify-ca" | "verify-full") =>
      connectionTarget("postgres://db.example.com/x", { ssl: mode, sslCa: "PEM" }).config.ssl;
    expect(ssl("disable")).toBe(false);
    expect(ssl("require")).toEqual({ rejectUnauthorized: false });
    expect(ssl("verify-ca")).toMatchObject({ rejectUnauthorized: true, ca: "PEM" });
    expect(ssl("verify-full")).toEqual({ rejectUnauthorized: true, ca: "PEM" });
  });
});

describe("ledger settings in the configuration", () => {
  it("fills the PostgreSQL defaults", () => {
    const ledger = loadLedgerConfig({ LEDGER_URL: "postgres://relay@db.example.com/refunds" });
    expect(ledger).toMatchObject({
      url: "postgres://relay@db.example.com/refunds",
      postgres: {
        poolSize: 10,
        statementTimeoutMs: 5_000,
        connectTimeoutMs: 5_000,
        migrate: "auto",
        retentionDays: 30,
        sweepIntervalMs: 3_600_000,
      },
    });
    expect(ledger.postgres?.password).toBeUndefined();
    expect(ledger.postgres?.ssl).toBeUndefined();
    expect(loadLedgerConfig({}).postgres).toBeUndefined();
    expect(
      loadLedgerConfig({ LEDGER_URL: "postgres://h/x", LEDGER_RETENTION_DAYS: "0" }).postgres,
    ).toMatchObject({
      retentionDays: 0,
      sweepIntervalMs: 0,
    });
  });

  it("takes the password from the URL, a file or PGPASSWORD, and keeps it out of the URL", () => {
    const fromUrl = loadLedgerConfig({ LEDGER_URL: `postgres://relay:${PASSWORD}@db/refunds` });
    expect(fromUrl.url).toBe("postgres://relay@db/refunds");
    expect(fromUrl.postgres?.password?.reveal()).toBe(PASSWORD);
    const fromFile = loadLedgerConfig(
      {
        LEDGER_URL: "postgres://relay@db/refunds",
        LEDGER_PASSWORD_FILE: "/run/secrets/pw",
        PGPASSWORD: "other",
      },
      () => `${PASSWORD}\n`,
    );
    expect(fromFile.postgres?.password?.reveal()).toBe(PASSWORD);
    const fromEnv = loadLedgerConfig({ LEDGER_URL: "postgres://relay@db/refunds", PGPASSWORD: PASSWORD });
    expect(fromEnv.postgres?.password?.reveal()).toBe(PASSWORD);
  });

  it("reports every ledger problem at once, never quoting the password", () => {
    const problems = problemsOf({
      LEDGER_URL: `postgres://relay:${PASSWORD}@db/refunds?sslmode=bogus`,
      LEDGER_PASSWORD_FILE: "/missing",
      LEDGER_SSL: "maybe",
      LEDGER_POOL_SIZE: "0",
      LEDGER_MIGRATE: "later",
      LEDGER_RETENTION_DAYS: "-1",
      LEDGER_SSL_CA_FILE: "/missing-ca.pem",
    });
    expect(problems).toEqual([
      expect.stringMatching(/^LEDGER_SSL: must be one of disable, require, verify-ca, verify-full/),
      expect.stringMatching(/^LEDGER_POOL_SIZE: must be an integer from 1 to 200/),
      expect.stringMatching(/^LEDGER_MIGRATE: must be auto or off/),
      expect.stringMatching(/^LEDGER_RETENTION_DAYS: must be an integer from 0/),
      expect.stringMatching(
        /^LEDGER_URL: sslmode must be one of .* \(postgres:\/\/relay@db\/refunds\?sslmode=bogus\)$/,
      ),
      expect.stringMatching(/^LEDGER_PASSWORD_FILE: cannot read \/missing \(ENOENT\)/),
      expect.stringMatching(/^LEDGER_SSL_CA_FILE: cannot read \/missing-ca.pem/),
    ]);
    expect(problems.join("\n")).not.toContain(PASSWORD);
    expect(problemsOf({ LEDGER_URL: "mysql://x" })).toEqual([
      expect.stringMatching(/unsupported scheme "mysql"/),
    ]);
  });

  it("never shows the password when the whole configuration is logged, inspected or encoded", () => {
    const config = loadConfig({ ...BASE, LEDGER_URL: `postgres://relay:${PASSWORD}@db/refunds` });
    expect(JSON.stringify(config)).not.toContain(PASSWORD);
    expect(inspect(config, { depth: 10 })).not.toContain(PASSWORD);
    expect(String(config.ledger.url)).not.toContain(PASSWORD);
    const fromFile = loadConfig(
      { ...BASE, LEDGER_URL: "postgres://relay@db/refunds", LEDGER_PASSWORD_FILE: "/pw" },
      () => PASSWORD,
    );
    expect(JSON.stringify(fromFile)).not.toContain(PASSWORD);
    expect(inspect(fromFile, { depth: 10 })).not.toContain(PASSWORD);
  });

  it("redacts a password from any URL shown, parseable or not", () => {
    expect(redactLedgerUrl(`postgres://relay:${PASSWORD}@db:5432/x?sslmode=require`)).toBe(
      "postgres://relay@db:5432/x?sslmode=require",
    );
    expect(redactLedgerUrl(`postgres://relay:${PASSWORD}@[bad/x`)).not.toContain(PASSWORD);
    expect(redactLedgerUrl("postgres://relay@db/x")).toBe("postgres://relay@db/x");
  });

  it("names the ledger without its password when it cannot be reached", async () => {
    const error = await openLedger(`postgres://relay:${PASSWORD}@127.0.0.1:1/refunds`, {
      postgres: { connectTimeoutMs: 500 },
    }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /cannot reach the ledger at postgres:\/\/relay@127\.0\.0\.1:1\/refunds/,
    );
    expect((error as Error).message).not.toContain(PASSWORD);
    expect(inspect(error, { depth: 10 })).not.toContain(PASSWORD);
    const target = connectionTarget(`postgres://relay:${PASSWORD}@db/x`);
    expect(JSON.stringify(target)).not.toContain(PASSWORD);
    expect(inspect(target, { depth: 10 })).not.toContain(PASSWORD);
  });
});

describe("the PostgreSQL ledger's group commit", () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

  it("sends what arrives together as one batch, and keeps a row's writes out of batches running beside it", async () => {
    const batches: string[][] = [];
    const gates: Array<() => void> = [];
    const queue = new BatchQueue<string>(
      async (ops) => {
        batches.push(ops);
        await new Promise<void>((resolve) => gates.push(resolve));
        return ops.map((op) => ({ ok: true, value: op }));
      },
      { maxBatches: 4, maxOps: 100, delayMs: 1 },
    );
    const first = [queue.push("a1", ["a"]), queue.push("b1", ["b"])];
    await tick();
    const second = [queue.push("a2", ["a"]), queue.push("c1", ["c"])];
    await tick();
    // a2 waits for the batch holding a1; c1 goes ahead in a batch of its own.
    expect(batches).toEqual([["a1", "b1"], ["c1"]]);
    gates.shift()?.();
    await Promise.all(first);
    await tick();
    expect(batches).toEqual([["a1", "b1"], ["c1"], ["a2"]]);
    for (const gate of gates.splice(0)) gate();
    await tick();
    for (const gate of gates.splice(0)) gate();
    expect(await Promise.all(second)).toEqual(["a2", "c1"]);
    await queue.drain();
  });

  it("collects while every allowed batch is in flight, and fails each operation of a failed batch", async () => {
    const batches: string[][] = [];
    let release: (() => void) | undefined;
    const queue = new BatchQueue<string>(
      async (ops) => {
        batches.push(ops);
        if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
        if (ops.includes("boom")) throw new Error("connection terminated");
        return ops.map((op) => ({ ok: true, value: op }));
      },
      { maxBatches: 1, maxOps: 100, delayMs: 1 },
    );
    const first = queue.push("x", []);
    await tick();
    const later = ["y", "boom", "z"].map((op) => queue.push(op, []));
    await tick();
    expect(batches).toEqual([["x"]]);
    release?.();
    await first;
    const settled = await Promise.allSettled(later);
    expect(batches).toEqual([["x"], ["y", "boom", "z"]]);
    expect(settled.every((s) => s.status === "rejected")).toBe(true);
  });
});
