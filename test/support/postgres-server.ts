// A private, throwaway PostgreSQL cluster for tests that stop and start the server under running relays
// (a shared server cannot be restarted without disturbing every other test). initdb writes a new
// cluster into a temporary directory, the server listens on a free loopback port, and flushing to the
// disk is switched off (fsync, full-page writes): the data only has to survive the server's processes
// stopping or dying, never the machine losing power, and the tests run faster without it. Commits are
// still written out before they are acknowledged (synchronous_commit stays on), so even an immediate
// stop loses nothing a client was told is committed, as on a production server.
//
// With `tls` the server accepts TLS (ssl = on) with the certificate given, and `hba` replaces the rules
// of pg_hba.conf (initdb's: trust for everyone), e.g. to accept only `hostssl` connections with a
// password; the superuser can always reach the server through its Unix socket, which is what query()
// and createDatabase() use. createTestCertificates() makes a throwaway CA and a server certificate for
// 127.0.0.1 and localhost with openssl.
//
// PostgreSQL refuses to run as root, so as root the server's programs run as the `postgres` OS user
// (via runuser) and the directory is handed to that user; any other user runs them as itself.
// Binaries: PG_BIN_DIR, else the newest /usr/lib/postgresql/<version>/bin, else `pg_config --bindir`.
import { execFile, execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

export type StopMode = "smart" | "fast" | "immediate";

export interface PrivatePostgresOptions {
  /** Directory holding initdb, pg_ctl and postgres; found automatically when absent. */
  readonly binDir?: string;
  /** A fixed port; default a free loopback port chosen once and kept across restarts. */
  readonly port?: number;
  readonly sharedBuffers?: string;
  readonly maxConnections?: number;
  /** Extra postgresql.conf lines. */
  readonly settings?: Readonly<Record<string, string | number>>;
  /** Turns TLS on with this certificate and key. */
  readonly tls?: PrivatePostgresTls;
  /**
   * The lines of pg_hba.conf, replacing initdb's (which trust everyone), e.g.
   * `hostssl all relay 127.0.0.1/32 scram-sha-256`. A line letting the superuser in through the Unix
   * socket comes first, so query() and createDatabase() keep working.
   */
  readonly hba?: readonly string[];
}

export interface PrivatePostgresTls {
  /** The server's certificate (PEM), with any intermediate certificates after it. */
  readonly cert: string;
  /** Its private key (PEM, unencrypted). */
  readonly key: string;
}

export interface TestCertificates {
  /** The throwaway CA's certificate (PEM): what a client trusts. */
  readonly ca: string;
  /** A server certificate signed by the CA, naming localhost and 127.0.0.1, and its key. */
  readonly server: PrivatePostgresTls;
}

/**
 * A new CA and a server certificate it signed, for `localhost` and `127.0.0.1` (subjectAltName), both
 * valid for a day, with P-256 keys (fast to make). Needs the openssl command.
 */
export async function createTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), "rr-certs-"));
  const at = (name: string) => join(dir, name);
  const openssl = async (args: string[]) => {
    try {
      await run("openssl", args, { cwd: dir, timeout: 30_000 });
    } catch (error) {
      const e = error as { stderr?: string; message?: string };
      throw new Error(`openssl ${args[0]} failed: ${(e.stderr || e.message || String(error)).trim()}`);
    }
  };
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await openssl([
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      at("ca.key"),
      "-out",
      at("ca.crt"),
      "-days",
      "1",
      "-subj",
      "/CN=refund-relay test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await openssl([
      "req",
      "-new",
      ...ecKey,
      "-keyout",
      at("server.key"),
      "-out",
      at("server.csr"),
      "-subj",
      "/CN=localhost",
    ]);
    await writeFile(
      at("server.ext"),
      [
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature",
        "extendedKeyUsage = serverAuth",
        "subjectAltName = DNS:localhost, IP:127.0.0.1",
      ].join("\n"),
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      at("server.csr"),
      "-CA",
      at("ca.crt"),
      "-CAkey",
      at("ca.key"),
      "-set_serial",
      String(Date.now()),
      "-days",
      "1",
      "-extfile",
      at("server.ext"),
      "-out",
      at("server.crt"),
    ]);
    const [ca, cert, key] = await Promise.all(
      ["ca.crt", "server.crt", "server.key"].map((name) => readFile(at(name), "utf8")),
    );
    return { ca: ca as string, server: { cert: cert as string, key: key as string } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function findBinDir(explicit: string | undefined): string {
  const candidates: string[] = [];
  if (explicit !== undefined) candidates.push(explicit);
  if (process.env.PG_BIN_DIR) candidates.push(process.env.PG_BIN_DIR);
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(root, v, "bin")));
  }
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim());
  } catch {
    // pg_config is not on PATH: only the candidates above remain.
  }
  const found = candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
  if (found === undefined) {
    throw new Error(
      "a private PostgreSQL cluster needs the server programs (initdb, pg_ctl, postgres); none found in " +
        `${candidates.length > 0 ? candidates.join(", ") : "(no candidates)"}. Install the PostgreSQL server ` +
        "package or set PG_BIN_DIR to the directory holding them.",
    );
  }
  return found;
}

/** The OS user the server runs as, with the uid/gid to hand its directory over; undefined: ourselves. */
interface ServerUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function serverUser(): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { name: "postgres", uid, gid };
  } catch {
    throw new Error(
      "running as root, but there is no `postgres` OS user to run a private PostgreSQL cluster as " +
        "(PostgreSQL refuses to run as root): create one, or run the tests as a non-root user",
    );
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class PrivatePostgres {
  readonly port: number;
  /** Holds the data directory, the log and the Unix socket. */
  readonly baseDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly #bin: string;
  readonly #user: ServerUser | undefined;
  #running = false;
  #removed = false;
  readonly #onExit = () => this.#stopNowSync();

  private constructor(bin: string, user: ServerUser | undefined, port: number, baseDir: string) {
    this.#bin = bin;
    this.#user = user;
    this.port = port;
    this.baseDir = baseDir;
    this.dataDir = join(baseDir, "data");
    this.logFile = join(baseDir, "server.log");
  }

  /** Creates the cluster (initdb) and starts it. */
  static async create(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
    const bin = findBinDir(options.binDir);
    const user = serverUser();
    const port = options.port ?? (await freePort());
    const baseDir = mkdtempSync(join(tmpdir(), "rr-pg-"));
    const server = new PrivatePostgres(bin, user, port, baseDir);
    try {
      if (user !== undefined) chownSync(baseDir, user.uid, user.gid);
      chmodSync(baseDir, 0o700);
      await server.#exec("initdb", [
        "-D",
        server.dataDir,
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
      ]);
      const settings: Record<string, string | number> = {
        port,
        listen_addresses: "'127.0.0.1'",
        unix_socket_directories: `'${baseDir}'`,
        fsync: "off",
        full_page_writes: "off",
        shared_buffers: options.sharedBuffers ?? "32MB",
        max_connections: options.maxConnections ?? 100,
        logging_collector: "off",
        log_min_messages: "warning",
        ...(options.tls === undefined ? {} : server.#writeTls(options.tls)),
        ...options.settings,
      };
      if (options.hba !== undefined) {
        // Written over initdb's file: the server reads it at start.
        server.#writeServerFile(
          "pg_hba.conf",
          `${["local all postgres trust", ...options.hba].join("\n")}\n`,
          0o600,
        );
      }
      const lines = Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
      await appendFile(join(server.dataDir, "postgresql.conf"), `\n${lines.join("\n")}\n`);
      // A test that dies without its cleanup must not leave a server running behind it.
      process.once("exit", server.#onExit);
      await server.start();
    } catch (error) {
      await server.cleanup().catch(() => undefined);
      throw error;
    }
    return server;
  }

  get running(): boolean {
    return this.#running;
  }

  /** A URL for `db` (default `postgres`) as the superuser, for LEDGER_URL or a pg client. */
  url(db = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(db)}`;
  }

  /** Starts the server on its data directory (again, after a stop) and waits until it accepts connections. */
  async start(): Promise<void> {
    if (this.#removed) throw new Error("the private PostgreSQL cluster was removed");
    await this.#exec("pg_ctl", ["start", "-D", this.dataDir, "-l", this.logFile, "-w", "-t", "60"]);
    this.#running = true;
  }

  /**
   * Stops the server. fast (the default): open connections are cut, their transactions rolled back,
   * and the data is written out cleanly; immediate: the server processes are killed, recovery runs at
   * the next start.
   */
  async stop({ mode = "fast" }: { mode?: StopMode } = {}): Promise<void> {
    await this.#exec("pg_ctl", ["stop", "-D", this.dataDir, "-m", mode, "-w", "-t", "60"]);
    this.#running = false;
  }

  /** Stops (fast), stays down for `downMs`, starts again with the same data. */
  async restart({ downMs = 0, mode = "fast" }: { downMs?: number; mode?: StopMode } = {}): Promise<void> {
    await this.stop({ mode });
    if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
  }

  /** Runs one statement as the superuser, through the Unix socket (allowed whatever `hba` says). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    db = "postgres",
  ): Promise<R[]> {
    const client = new pg.Client({
      host: this.baseDir,
      port: this.port,
      user: "postgres",
      database: db,
      ssl: false,
    });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** Creates an empty database; returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
    await this.query(`CREATE DATABASE ${name}`);
    return this.url(name);
  }

  /** The last `lines` of the server's log, for a failure message. */
  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no server log)";
    }
  }

  /** Stops the server at once (if it runs) and deletes the cluster. Safe to call twice. */
  async cleanup(): Promise<void> {
    if (this.#removed) return;
    if (this.#running || existsSync(join(this.dataDir, "postmaster.pid"))) {
      await this.stop({ mode: "immediate" }).catch(() => undefined);
    }
    this.#removed = true;
    process.off("exit", this.#onExit);
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  /** The postgresql.conf settings for TLS, after writing the certificate and key into the data directory. */
  #writeTls(tls: PrivatePostgresTls): Record<string, string> {
    this.#writeServerFile("server.crt", tls.cert, 0o644);
    // The server refuses a key that others than its owner can read.
    this.#writeServerFile("server.key", tls.key, 0o600);
    return { ssl: "on", ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'" };
  }

  /** Writes a file into the data directory, owned by the server's user. */
  #writeServerFile(name: string, content: string, mode: number): void {
    const path = join(this.dataDir, name);
    writeFileSync(path, content, { mode });
    chmodSync(path, mode);
    if (this.#user !== undefined) chownSync(path, this.#user.uid, this.#user.gid);
  }

  #command(program: string, args: readonly string[]): [string, string[]] {
    const path = join(this.#bin, program);
    return this.#user === undefined
      ? [path, [...args]]
      : ["runuser", ["-u", this.#user.name, "--", path, ...args]];
  }

  async #exec(program: string, args: readonly string[]): Promise<void> {
    const [file, argv] = this.#command(program, args);
    try {
      // The server's own output goes to the log file (-l), so pg_ctl returns once the server is up;
      // the working directory is one the server's user can enter.
      await run(file, argv, { cwd: this.baseDir, timeout: 90_000 });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message?: string };
      throw new Error(
        `${program} ${args[0] ?? ""} failed: ${(e.stderr || e.stdout || e.message || String(error)).trim()}` +
          (program === "pg_ctl" ? `\nserver log:\n${this.logTail(20)}` : ""),
      );
    }
  }

  #stopNowSync(): void {
    if (this.#removed) return;
    try {
      const [file, argv] = this.#command("pg_ctl", ["stop", "-D", this.dataDir, "-m", "immediate", "-w"]);
      execFileSync(file, argv, { stdio: "ignore", timeout: 20_000 });
    } catch {
      // Not running.
    }
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}
