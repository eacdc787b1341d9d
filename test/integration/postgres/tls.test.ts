// The PostgreSQL ledger's TLS and password options against a server that insists on them: a private
// cluster (test/support/postgres-server.ts) with ssl = on, a certificate from a CA made for this file
// (naming localhost and 127.0.0.1), and a pg_hba.conf that accepts only `hostssl` connections of the
// roles `relay` (the ledger's owner) and `relay_odd` (a password full of URL syntax), authenticated
// with scram-sha-256. The server also listens on 127.0.0.2, an address
// its certificate does not name, which tells verify-ca (chain only) from verify-full (chain and name).
// Ledgers are opened with openLedger, as the relay does, and through `refund-relay ledger status`
// with the environment an operator sets (LEDGER_SSL, LEDGER_SSL_CA_FILE, LEDGER_PASSWORD_FILE,
// PGPASSWORD, the URL's sslmode).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ledgerCommand } from "../../../src/cli/ledger.ts";
import { loadLedgerConfig, Secret } from "../../../src/config.ts";
import { openLedger, type PostgresLedger, type PostgresLedgerSettings } from "../../../src/ledger/index.ts";
import { latestVersion } from "../../../src/ledger/postgres-migrations.ts";
import { sampleEntry } from "../../support/ledger-contract.ts";
import {
  createTestCertificates,
  PrivatePostgres,
  type TestCertificates,
} from "../../support/postgres-server.ts";

const ROLE = "relay";
const DB = "rr_tls";
/** Random, so finding it in a message can only mean the message leaked it. */
const PASSWORD = `pw-${randomBytes(12).toString("hex")}`;
const WRONG_PASSWORD = `wrong-${randomBytes(12).toString("hex")}`;
/**
 * A second role whose password has what URLs make special (@ : / ? # & + space, and a "%25" that must
 * stay three characters, not be decoded twice) and a non-ASCII letter.
 */
const ODD_ROLE = "relay_odd";
const ODD_PASSWORD = `p@ss:w/rd?#%25&+ é-${randomBytes(6).toString("hex")}`;
const bin = fileURLToPath(new URL("../../../bin/refund-relay.js", import.meta.url));

let server: PrivatePostgres;
let certs: TestCertificates;
/** A second CA's certificate: it signed nothing the server shows, so trusting only it lets nothing in. */
let otherCa = "";
let dir = "";
const files = { ca: "", password: "", wrongPassword: "", otherCa: "", oddPassword: "" };

beforeAll(async () => {
  const [own, other] = await Promise.all([createTestCertificates(), createTestCertificates()]);
  certs = own;
  otherCa = other.ca;
  server = await PrivatePostgres.create({
    tls: certs.server,
    hba: [
      `hostssl ${DB} ${ROLE},${ODD_ROLE} 127.0.0.1/32 scram-sha-256`,
      `hostssl ${DB} ${ROLE} 127.0.0.2/32 scram-sha-256`,
    ],
    settings: { listen_addresses: "'127.0.0.1,127.0.0.2'", password_encryption: "'scram-sha-256'" },
  });
  await server.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await server.query(`CREATE DATABASE ${DB} OWNER ${ROLE}`);
  // A member of the ledger's owner, so it may read the ledger's tables.
  await server.query(`CREATE ROLE ${ODD_ROLE} LOGIN PASSWORD '${ODD_PASSWORD}' IN ROLE ${ROLE}`);
  dir = mkdtempSync(join(tmpdir(), "rr-tls-"));
  const write = (name: keyof typeof files, content: string) => {
    files[name] = join(dir, name);
    writeFileSync(files[name], content, { mode: 0o600 });
  };
  write("ca", certs.ca);
  write("otherCa", otherCa);
  // As `echo secret > file` writes them: the newline is not part of the password.
  write("password", `${PASSWORD}\n`);
  write("wrongPassword", `${WRONG_PASSWORD}\n`);
  write("oddPassword", `${ODD_PASSWORD}\n`);
});

afterAll(async () => {
  await server?.cleanup();
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** The ledger's URL, without a password unless given; `query` e.g. `sslmode=require`. */
function ledgerUrl({
  host = "127.0.0.1",
  password,
  query,
}: {
  host?: string;
  password?: string;
  query?: string;
} = {}) {
  const auth = password === undefined ? ROLE : `${ROLE}:${encodeURIComponent(password)}`;
  return `postgres://${auth}@${host}:${server.port}/${DB}${query === undefined ? "" : `?${query}`}`;
}

const secret = (value = PASSWORD) => new Secret(value);

const opened: PostgresLedger[] = [];
beforeEach(() => {
  // Nothing from the environment that runs the tests: each test sets what it means to use.
  for (const name of ["PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT", "LEDGER_SSL", "LEDGER_SSL_CA_FILE"]) {
    vi.stubEnv(name, undefined);
  }
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
  vi.unstubAllEnvs();
});

async function open(settings: PostgresLedgerSettings, url = ledgerUrl()): Promise<PostgresLedger> {
  const ledger = (await openLedger(url, {
    postgres: { connectTimeoutMs: 3_000, ...settings },
  })) as PostgresLedger;
  opened.push(ledger);
  return ledger;
}

/** The message openLedger fails with; fails the test if it opens. */
async function refusal(settings: PostgresLedgerSettings, url = ledgerUrl()): Promise<string> {
  try {
    await open(settings, url);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the ledger opened, but should have been refused");
}

/** Who the ledger's connections are and how they reached the server, as the server sees it. */
async function session(ledger: PostgresLedger) {
  const { rows } = await ledger.pool.query<{ user: string; ssl: boolean; version: string | null }>(
    `SELECT current_user AS user, s.ssl, s.version
       FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`,
  );
  return rows[0];
}

/** A ledger that works: an event begun on it can be read back. */
async function roundTrip(ledger: PostgresLedger) {
  const entry = sampleEntry();
  await ledger.begin(entry, new Date());
  expect(await ledger.get(entry)).toMatchObject({ eventId: entry.eventId, state: "received", amount: 1250 });
}

/** `refund-relay ledger status --json` in this process, with these variables on top of LEDGER_URL. */
async function status(env: Record<string, string>) {
  vi.stubEnv("LEDGER_URL", ledgerUrl());
  vi.stubEnv("LEDGER_CONNECT_TIMEOUT_MS", "3000");
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  const code = await ledgerCommand.run(["status", "--json"], { stdin: new PassThrough(), stdout, stderr });
  return { code, ...text };
}

/** What every refusal must show: where (without a password), never a password. */
function expectSafeRefusal(message: string, host = "127.0.0.1") {
  expect(message).toContain(`cannot reach the ledger at postgres://${ROLE}@${host}:${server.port}/${DB}`);
  expect(message).not.toContain(PASSWORD);
  expect(message).not.toContain(WRONG_PASSWORD);
}

describe("the server", () => {
  it("stores the role's password as a SCRAM-SHA-256 verifier", async () => {
    const rows = await server.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
      [ROLE],
    );
    expect(rows[0]?.rolpassword).toMatch(/^SCRAM-SHA-256\$/);
  });
});

describe("PostgreSQL ledger over TLS", () => {
  it("verify-full with the CA file: connects encrypted as the role and works", async () => {
    const ledger = await open({ ssl: "verify-full", sslCa: certs.ca, password: secret() });
    expect(await session(ledger)).toMatchObject({
      user: ROLE,
      ssl: true,
      version: expect.stringMatching(/^TLSv1\.[23]$/),
    });
    await roundTrip(ledger);
  });

  it("verify-full accepts the certificate's DNS name as well (localhost)", async () => {
    const ledger = await open(
      { ssl: "verify-full", sslCa: certs.ca, password: secret() },
      ledgerUrl({ host: "localhost" }),
    );
    expect(await session(ledger)).toMatchObject({ user: ROLE, ssl: true });
    await roundTrip(ledger);
  });

  it("verify-full without the CA file fails on the certificate, never quoting the password", async () => {
    // The password in the URL this time, so a message that quoted the URL would show it.
    const message = await refusal({ ssl: "verify-full" }, ledgerUrl({ password: PASSWORD }));
    expect(message).toMatch(/certificate/i);
    expectSafeRefusal(message);
  });

  it("verify-full with a CA that did not sign the server's certificate fails", async () => {
    const message = await refusal({ ssl: "verify-full", sslCa: otherCa, password: secret() });
    expect(message).toMatch(/certificate/i);
    expectSafeRefusal(message);
  });

  it("verify-full refuses a certificate that does not name the host; verify-ca accepts it", async () => {
    const elsewhere = ledgerUrl({ host: "127.0.0.2" });
    const message = await refusal({ ssl: "verify-full", sslCa: certs.ca, password: secret() }, elsewhere);
    expect(message).toMatch(/127\.0\.0\.2.*(altnames|not in the cert)|(altnames|certificate).*127\.0\.0\.2/i);
    expectSafeRefusal(message, "127.0.0.2");
    const ledger = await open({ ssl: "verify-ca", sslCa: certs.ca, password: secret() }, elsewhere);
    expect(await session(ledger)).toMatchObject({ user: ROLE, ssl: true });
    await roundTrip(ledger);
  });

  it("verify-ca with the CA file works; without it, it fails on the certificate", async () => {
    const ledger = await open({ ssl: "verify-ca", sslCa: certs.ca, password: secret() });
    expect(await session(ledger)).toMatchObject({ user: ROLE, ssl: true });
    await roundTrip(ledger);
    const message = await refusal({ ssl: "verify-ca", password: secret() });
    expect(message).toMatch(/certificate/i);
    expectSafeRefusal(message);
  });

  it("require works without a CA file, encrypted", async () => {
    const ledger = await open({ ssl: "require", password: secret() });
    expect(await session(ledger)).toMatchObject({ user: ROLE, ssl: true });
    await roundTrip(ledger);
  });

  it("disable, and the loopback default (disable), are refused by the server: hostssl only", async () => {
    for (const settings of [{ ssl: "disable" as const }, {}]) {
      const message = await refusal({ ...settings, password: secret() });
      expect(message).toMatch(
        /no pg_hba\.conf entry for host "127\.0\.0\.1", user "relay", database "rr_tls", no encryption/,
      );
      expect(message).toContain("(28000)");
      expectSafeRefusal(message);
    }
  });

  it("takes the mode from the URL's sslmode, and LEDGER_SSL over it", async () => {
    const required = await open({ password: secret() }, ledgerUrl({ query: "sslmode=require" }));
    expect(await session(required)).toMatchObject({ ssl: true });
    const verified = await open(
      { sslCa: certs.ca, password: secret() },
      ledgerUrl({ query: "sslmode=verify-full" }),
    );
    expect(await session(verified)).toMatchObject({ ssl: true });
    // The URL says verify-full, without a CA that cannot succeed; the setting says require.
    const overridden = await open(
      { ssl: "require", password: secret() },
      ledgerUrl({ query: "sslmode=verify-full" }),
    );
    expect(await session(overridden)).toMatchObject({ ssl: true });
    expect(await refusal({ password: secret() }, ledgerUrl({ query: "sslmode=verify-full" }))).toMatch(
      /certificate/i,
    );
    expect(await refusal({ password: secret() }, ledgerUrl({ query: "sslmode=disable" }))).toMatch(
      /no encryption/,
    );
  });

  it("a wrong password fails clearly, without echoing it", async () => {
    const message = await refusal({ ssl: "verify-full", sslCa: certs.ca, password: secret(WRONG_PASSWORD) });
    expect(message).toMatch(/password authentication failed for user "relay" \(28P01\)/);
    expectSafeRefusal(message);
    const inUrl = await refusal(
      { ssl: "verify-full", sslCa: certs.ca },
      ledgerUrl({ password: WRONG_PASSWORD }),
    );
    expect(inUrl).toMatch(/password authentication failed for user "relay"/);
    expectSafeRefusal(inUrl);
  });

  it("the relay's configuration: LEDGER_PASSWORD_FILE or PGPASSWORD, LEDGER_SSL and LEDGER_SSL_CA_FILE open a working ledger", async () => {
    // The configuration reads the variables given, not this process's environment (which has no
    // PGPASSWORD here, so pg cannot find the password there by itself).
    expect(process.env.PGPASSWORD).toBeUndefined();
    for (const password of [{ LEDGER_PASSWORD_FILE: files.password }, { PGPASSWORD: PASSWORD }]) {
      const config = loadLedgerConfig({
        LEDGER_URL: ledgerUrl(),
        LEDGER_SSL: "verify-full",
        LEDGER_SSL_CA_FILE: files.ca,
        ...password,
      });
      expect(JSON.stringify(config)).not.toContain(PASSWORD);
      const ledger = await open(config.postgres ?? {}, config.url);
      expect(await session(ledger)).toMatchObject({ user: ROLE, ssl: true });
      await roundTrip(ledger);
    }
  });
});

describe("refund-relay ledger status over TLS", () => {
  const verified = () => ({ LEDGER_SSL: "verify-full", LEDGER_SSL_CA_FILE: files.ca });
  const expectStatus = (result: { code: number; out: string; err: string }) => {
    expect(result).toMatchObject({ code: 0, err: "" });
    const parsed = JSON.parse(result.out);
    expect(parsed).toMatchObject({ ledger: ledgerUrl(), schema: { known: latestVersion() } });
    expect(result.out).not.toContain(PASSWORD);
  };

  it("reads the password from LEDGER_PASSWORD_FILE", async () => {
    expectStatus(await status({ ...verified(), LEDGER_PASSWORD_FILE: files.password }));
  });

  it("reads the password from PGPASSWORD", async () => {
    expectStatus(await status({ ...verified(), PGPASSWORD: PASSWORD }));
  });

  it("takes the password from the URL, and never prints it", async () => {
    const result = await status({ ...verified(), LEDGER_URL: ledgerUrl({ password: PASSWORD }) });
    expectStatus(result);
  });

  it("without any password, fails (exit 1): the password options above are what let it in", async () => {
    const result = await status(verified());
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/cannot reach the ledger at postgres:\/\/relay@127\.0\.0\.1:\d+\/rr_tls/);
    expect(result.err).toMatch(/password/i);
  });

  it("a wrong password from LEDGER_PASSWORD_FILE fails (exit 1) without echoing it", async () => {
    const result = await status({ ...verified(), LEDGER_PASSWORD_FILE: files.wrongPassword });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/password authentication failed for user "relay"/);
    expect(`${result.out}${result.err}`).not.toContain(WRONG_PASSWORD);
  });

  it("verify-full without LEDGER_SSL_CA_FILE fails (exit 1) on the certificate, never printing the password", async () => {
    const result = await status({ LEDGER_SSL: "verify-full", LEDGER_URL: ledgerUrl({ password: PASSWORD }) });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/certificate/i);
    expect(result.err).toContain(`postgres://${ROLE}@127.0.0.1:${server.port}/${DB}`);
    expect(`${result.out}${result.err}`).not.toContain(PASSWORD);
  });

  it("a password with URL-special characters works percent-encoded in the URL, from the file and PGPASSWORD", async () => {
    const odd = (url: string) => url.replace(`//${ROLE}`, `//${ODD_ROLE}`);
    const inUrl = `postgres://${ODD_ROLE}:${encodeURIComponent(ODD_PASSWORD)}@127.0.0.1:${server.port}/${DB}`;
    for (const env of [
      { LEDGER_URL: inUrl },
      { LEDGER_URL: odd(ledgerUrl()), LEDGER_PASSWORD_FILE: files.oddPassword },
      { LEDGER_URL: odd(ledgerUrl()), PGPASSWORD: ODD_PASSWORD },
    ]) {
      const result = await status({ ...verified(), ...env });
      expect(result).toMatchObject({ code: 0, err: "" });
      expect(JSON.parse(result.out)).toMatchObject({ ledger: odd(ledgerUrl()) });
      expect(result.out).not.toContain(encodeURIComponent(ODD_PASSWORD));
    }
  });

  it("verify-ca with LEDGER_SSL_CA_FILE and require without one work; disable is refused (exit 1)", async () => {
    expectStatus(
      await status({ LEDGER_SSL: "verify-ca", LEDGER_SSL_CA_FILE: files.ca, PGPASSWORD: PASSWORD }),
    );
    expectStatus(await status({ LEDGER_SSL: "require", PGPASSWORD: PASSWORD }));
    const refused = await status({ LEDGER_SSL: "disable", PGPASSWORD: PASSWORD });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/no pg_hba\.conf entry .* no encryption/);
    expect(refused.err).not.toContain(PASSWORD);
  });

  it("trusting another CA only (LEDGER_SSL_CA_FILE) fails (exit 1)", async () => {
    const result = await status({
      LEDGER_SSL: "verify-full",
      LEDGER_SSL_CA_FILE: files.otherCa,
      PGPASSWORD: PASSWORD,
    });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/certificate/i);
  });

  it("the installed command (bin/refund-relay.js) connects with verify-full and the password file", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env))
      if (name.startsWith("LEDGER_") || name.startsWith("PG")) delete env[name];
    Object.assign(env, {
      LEDGER_URL: ledgerUrl(),
      LEDGER_SSL: "verify-full",
      LEDGER_SSL_CA_FILE: files.ca,
      LEDGER_PASSWORD_FILE: files.password,
    });
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, "ledger", "status"], {
      env,
      timeout: 30_000,
    });
    expect(stderr).toBe("");
    expect(stdout).toContain(`ledger      ${ledgerUrl()}`);
    expect(stdout).toMatch(new RegExp(`schema\\s+version ${latestVersion()} \\(this refund-relay knows`));
    expect(stdout).not.toContain(PASSWORD);
  });
});
