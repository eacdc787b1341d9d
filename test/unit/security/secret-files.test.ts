// Secrets given as files (DOJO_API_KEY_FILE, DOJO_ACCOUNTS_FILE, LEDGER_PASSWORD_FILE, and the Kafka
// client's TLS private key, KAFKA_SSL_KEY_FILE): a warning when
// the file can be read by its group or by every user, naming the variable and the file, never what it
// holds; none for a file only its owner reads. Real files, real modes.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, loadLedgerConfig } from "../../../src/config.ts";

const KEY = "sk_sandbox_FileKeyBody0123456789";
const MERCHANT_KEY = "sk_prod_MerchantKeyBody98765";
const PASSWORD = "ledger-Pa55-from-a-file";
// Not a real key: only its body must never appear in a warning.
const TLS_KEY_BODY = "MC4CAQAwBQYDK2VwBCIEIKafkaClientKeyBodyNeverLogged0123";
const TLS_KEY = `-----BEGIN PRIVATE KEY-----\n${TLS_KEY_BODY}\n-----END PRIVATE KEY-----\n`;
const SECRETS = [KEY, MERCHANT_KEY, PASSWORD, TLS_KEY_BODY];

const dir = mkdtempSync(join(tmpdir(), "refund-relay-secret-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function secretFile(content: string, mode: number): string {
  const path = join(dir, `secret-${++counter}`);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

function warningsOf(load: (onWarning: (w: string) => void) => unknown): string[] {
  const warnings: string[] = [];
  load((w) => warnings.push(w));
  for (const warning of warnings) for (const secret of SECRETS) expect(warning).not.toContain(secret);
  return warnings;
}

const BASE = { KAFKA_BROKERS: "localhost:9092" };
const relay = (env: Record<string, string>) => (onWarning: (w: string) => void) =>
  loadConfig({ ...BASE, ...env }, { onWarning });

describe.skipIf(process.platform === "win32")("files holding secrets", () => {
  it("DOJO_API_KEY_FILE readable by every user (644): one warning naming the variable and the file", () => {
    const path = secretFile(`${KEY}\n`, 0o644);
    const warnings = warningsOf(relay({ DOJO_API_KEY_FILE: path }));
    expect(warnings).toEqual([
      `DOJO_API_KEY_FILE ${path} holds secrets (a Dojo API key) and can be read by its group and every user (mode 0644); make it readable by its owner only (chmod 600)`,
    ]);
  });

  it("DOJO_API_KEY_FILE readable by its group (640) is reported too; 600 and 400 are quiet", () => {
    const group = secretFile(KEY, 0o640);
    expect(warningsOf(relay({ DOJO_API_KEY_FILE: group }))[0]).toContain(
      "can be read by its group (mode 0640)",
    );
    for (const mode of [0o600, 0o400]) {
      const path = secretFile(KEY, mode);
      expect(warningsOf(relay({ DOJO_API_KEY_FILE: path }))).toEqual([]);
    }
  });

  it("DOJO_API_KEY_FILE others can change: whoever replaces the key decides the account", () => {
    const path = secretFile(KEY, 0o622);
    expect(warningsOf(relay({ DOJO_API_KEY_FILE: path }))).toEqual([
      `DOJO_API_KEY_FILE ${path} can be changed by its group and every user (mode 0622), who could then change where refunds go; make it writable by its owner only`,
    ]);
  });

  it("DOJO_ACCOUNTS_FILE: warned at 644, quiet at 600", () => {
    const accounts = JSON.stringify({ default: KEY, merchants: { "shop-uk": MERCHANT_KEY } });
    const open = secretFile(accounts, 0o644);
    const warnings = warningsOf(relay({ DOJO_ACCOUNTS_FILE: open }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^DOJO_ACCOUNTS_FILE ${open} holds secrets \\(Dojo API keys\\)`));
    expect(warningsOf(relay({ DOJO_ACCOUNTS_FILE: secretFile(accounts, 0o600) }))).toEqual([]);
  });

  it("LEDGER_PASSWORD_FILE: warned at 644 (by the relay and by the ledger commands), quiet at 600", () => {
    const open = secretFile(`${PASSWORD}\n`, 0o644);
    const env = {
      DOJO_API_KEY: KEY,
      LEDGER_URL: "postgres://relay@db.internal:5432/refunds",
      LEDGER_PASSWORD_FILE: open,
    };
    const expected = `LEDGER_PASSWORD_FILE ${open} holds secrets (the ledger password) and can be read by its group and every user (mode 0644); make it readable by its owner only (chmod 600)`;
    expect(warningsOf(relay(env))).toEqual([expected]);
    expect(warningsOf((onWarning) => loadLedgerConfig(env, { onWarning }))).toEqual([expected]);

    const closed = secretFile(PASSWORD, 0o600);
    expect(warningsOf(relay({ ...env, LEDGER_PASSWORD_FILE: closed }))).toEqual([]);
    expect(
      warningsOf((onWarning) => loadLedgerConfig({ ...env, LEDGER_PASSWORD_FILE: closed }, { onWarning })),
    ).toEqual([]);
  });

  it("LEDGER_PASSWORD_FILE others can write is reported for its readers only", () => {
    const path = secretFile(PASSWORD, 0o666);
    const env = {
      DOJO_API_KEY: KEY,
      LEDGER_URL: "postgres://relay@db.internal:5432/refunds",
      LEDGER_PASSWORD_FILE: path,
    };
    const warnings = warningsOf(relay(env));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      "holds secrets (the ledger password) and can be read by its group and every user (mode 0666)",
    );
  });

  it("KAFKA_SSL_KEY_FILE readable by its group or every user: one warning naming the variable and the file", () => {
    for (const [mode, readers] of [
      [0o644, "its group and every user (mode 0644)"],
      [0o640, "its group (mode 0640)"],
      [0o604, "every user (mode 0604)"],
    ] as const) {
      const path = secretFile(TLS_KEY, mode);
      const warnings = warningsOf(relay({ DOJO_API_KEY: KEY, KAFKA_SSL: "true", KAFKA_SSL_KEY_FILE: path }));
      expect(warnings).toEqual([
        `KAFKA_SSL_KEY_FILE ${path} holds secrets (the Kafka client's TLS private key) and can be read by ${readers}; make it readable by its owner only (chmod 600)`,
      ]);
    }
  });

  it("KAFKA_SSL_KEY_FILE only its owner reads (600, 400) is quiet, and the key still loads", () => {
    for (const mode of [0o600, 0o400]) {
      const path = secretFile(TLS_KEY, mode);
      const warnings: string[] = [];
      const config = loadConfig(
        { ...BASE, DOJO_API_KEY: KEY, KAFKA_SSL: "true", KAFKA_SSL_KEY_FILE: path },
        { onWarning: (w) => warnings.push(w) },
      );
      expect(warnings).toEqual([]);
      const ssl = config.kafka?.ssl;
      expect(ssl === false ? undefined : ssl?.key?.reveal()).toBe(TLS_KEY);
    }
  });

  it("KAFKA_SSL_KEY_FILE others can write but not read is not a secret leak: quiet, like the password file", () => {
    const path = secretFile(TLS_KEY, 0o622);
    expect(warningsOf(relay({ DOJO_API_KEY: KEY, KAFKA_SSL: "true", KAFKA_SSL_KEY_FILE: path }))).toEqual([]);
  });

  it("every secret file at once: one warning each, the configuration still loads with the secrets", () => {
    const env = {
      DOJO_ACCOUNTS_FILE: secretFile(JSON.stringify({ default: KEY }), 0o604),
      LEDGER_URL: "postgres://relay@db.internal:5432/refunds",
      LEDGER_PASSWORD_FILE: secretFile(PASSWORD, 0o644),
    };
    const warnings: string[] = [];
    const config = loadConfig({ ...BASE, ...env }, { onWarning: (w) => warnings.push(w) });
    expect(warnings.map((w) => w.split(" ")[0])).toEqual(["DOJO_ACCOUNTS_FILE", "LEDGER_PASSWORD_FILE"]);
    expect(config.ledger.postgres?.password?.reveal()).toBe(PASSWORD);
    expect(config.dojo.accounts.resolve(undefined)).toBeDefined();
  });

  it("writes the warning to standard error by default, without the secret", () => {
    const path = secretFile(KEY, 0o644);
    const tlsKey = secretFile(TLS_KEY, 0o644);
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      loadConfig({ ...BASE, DOJO_API_KEY_FILE: path, KAFKA_SSL: "true", KAFKA_SSL_KEY_FILE: tlsKey });
    } finally {
      process.stderr.write = write;
    }
    expect(written.join("")).toContain(`refund-relay: warning: DOJO_API_KEY_FILE ${path} holds secrets`);
    expect(written.join("")).toContain(`refund-relay: warning: KAFKA_SSL_KEY_FILE ${tlsKey} holds secrets`);
    expect(written.join("")).not.toContain(KEY);
    expect(written.join("")).not.toContain(TLS_KEY_BODY);
    expect(written.join("")).not.toContain("PRIVATE KEY");
  });

  it("reports a file it cannot read as a problem, not a warning", () => {
    const missing = join(dir, "absent");
    expect(() => loadConfig({ ...BASE, DOJO_API_KEY_FILE: missing }, { onWarning: () => {} })).toThrow(
      `DOJO_API_KEY_FILE: cannot read ${missing} (ENOENT)`,
    );
  });
});

describe.skipIf(process.platform === "win32")(
  "refund-relay send and tail: KAFKA_SSL_KEY_FILE permissions",
  () => {
    // Both read the relay's Kafka settings; --dry-run stops before connecting, so no broker is needed.
    async function sendDryRun(keyFile: string): Promise<{ code: number; err: string }> {
      const env = { KAFKA_BROKERS: "127.0.0.1:1", KAFKA_SSL: "true", KAFKA_SSL_KEY_FILE: keyFile };
      const { PassThrough } = await import("node:stream");
      const { runSend } = await import("../../../src/cli/send.ts");
      const input = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let err = "";
      stdout.resume();
      stderr.on("data", (c: Buffer) => (err += c.toString()));
      const { validEvent } = await import("../schemas/fixtures.ts");
      input.end(JSON.stringify(validEvent()));
      const code = await runSend(["--dry-run", "-"], { stdin: input, stdout, stderr }, env);
      return { code, err };
    }

    it("warns once, naming the variable and the file and never the key, when others can read it", async () => {
      const path = secretFile(TLS_KEY, 0o640);
      const { err } = await sendDryRun(path);
      expect(err).toContain(
        `warning: KAFKA_SSL_KEY_FILE ${path} holds secrets (the Kafka client's TLS private key) and can be read by its group (mode 0640)`,
      );
      expect(err.match(/KAFKA_SSL_KEY_FILE/g)).toHaveLength(1);
      expect(err).not.toContain(TLS_KEY_BODY);
    });

    it("is quiet when only its owner can read it", async () => {
      const path = secretFile(TLS_KEY, 0o600);
      const { err } = await sendDryRun(path);
      expect(err).not.toContain("warning");
    });

    it("tail warns the same way, on its own error stream, before it tries the broker", async () => {
      const { PassThrough } = await import("node:stream");
      const { createServer } = await import("node:net");
      const { runTail } = await import("../../../src/cli/tail.ts");
      // A port nothing listens on: tail then exits 1 after a few seconds of retries.
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as { port: number }).port;
      await new Promise((resolve) => server.close(resolve));
      const path = secretFile(TLS_KEY, 0o604);
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let err = "";
      stdout.resume();
      stderr.on("data", (c: Buffer) => (err += c.toString()));
      const code = await runTail(
        ["--timeout", "30"],
        { stdin: new PassThrough(), stdout, stderr },
        { env: { KAFKA_BROKERS: `127.0.0.1:${port}`, KAFKA_SSL: "true", KAFKA_SSL_KEY_FILE: path } },
      );
      expect(code).toBe(1);
      expect(err).toContain(
        `warning: KAFKA_SSL_KEY_FILE ${path} holds secrets (the Kafka client's TLS private key) and can be read by every user (mode 0604); make it readable by its owner only (chmod 600)`,
      );
      expect(err).not.toContain(TLS_KEY_BODY);
    });
  },
);
