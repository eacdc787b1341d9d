// The image runs as an unprivileged user over code it cannot change, and docker-compose.yml gives its
// containers a read-only root file system with a tmpfs on /tmp. What the relay may write is therefore
// /tmp and, for the default SQLite ledger (sqlite:./data/refund-relay.db), /app/data, the one
// directory the image hands to its user. Without a Docker engine this is checked by running
// `refund-relay start` the way the image does: from a copy of the image's layout (bin/ copied, the
// sources linked, a node_modules/ and a home the user cannot write, data/ and a TMPDIR it can), as an
// unprivileged user (uid 65534 when the tests run as root, else the tests' own user over directories
// made read-only), on the default SQLite ledger, over an in-process SQS emulator and the Dojo
// simulator, through one refund, to a SIGTERM drain. With strace on the machine every call that
// creates, opens for writing, renames or removes a file is recorded: those that succeed must all land
// in data/ or the TMPDIR, and the only one that may be attempted elsewhere is the compile cache's
// directory under node_modules/.cache (bin/refund-relay.js), which must then be skipped silently.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSimControl, type DojoSimulator, startDojoSimulator } from "../../../src/sim/index.ts";
import { returnApproved } from "../../support/events.ts";
import { type StartedFauxqs, startFauxqs } from "../../support/fauxqs.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
const KEY = "sk_sandbox_readonlyroot";
const AS_ROOT = process.getuid?.() === 0;
/** The unprivileged user the relay runs as when the tests run as root. */
const UID = 65534;
const STRACE = spawnSync("strace", ["-V"], { encoding: "utf8" }).status === 0;

let box = "";
let sim: DojoSimulator | undefined;
let sqsServer: StartedFauxqs | undefined;

beforeAll(async () => {
  sim = await startDojoSimulator({ apiKeys: [KEY] });
  sqsServer = await startFauxqs();
});
afterAll(async () => {
  await sim?.close();
  await sqsServer?.stop();
  if (box !== "") {
    // Made read-only for a non-root run: writable again, so it can be removed.
    if (!AS_ROOT)
      for (const dir of ["app/node_modules", "home", "app/bin", "app"]) chmodSync(join(box, dir), 0o755);
    rmSync(box, { recursive: true, force: true });
  }
});

/** The image's /app (code read-only, data/ writable) and a home and TMPDIR beside it. */
function imageLayout(): { app: string; data: string; tmp: string; home: string; nodeModules: string } {
  box = mkdtempSync(join(tmpdir(), "refund-relay-ro-root-"));
  const app = join(box, "app");
  const paths = {
    app,
    data: join(app, "data"),
    tmp: join(box, "tmp"),
    home: join(box, "home"),
    nodeModules: join(app, "node_modules"),
  };
  for (const dir of [app, join(app, "bin"), paths.nodeModules, paths.data, paths.tmp, paths.home])
    mkdirSync(dir);
  copyFileSync(join(ROOT, "bin", "refund-relay.js"), join(app, "bin", "refund-relay.js"));
  // The command imports ../src/cli/main.ts; Node follows the link, so packages resolve from the checkout.
  symlinkSync(join(ROOT, "src"), join(app, "src"));
  chmodSync(box, 0o755);
  if (AS_ROOT) {
    // Owned by root like the image's code; only data/ and the TMPDIR belong to the relay's user.
    chownSync(paths.data, UID, UID);
    chownSync(paths.tmp, UID, UID);
  } else {
    for (const dir of [paths.nodeModules, paths.home, join(app, "bin"), app]) chmodSync(dir, 0o555);
  }
  return paths;
}

/** Calls that create, open for writing, rename, link or remove a file, as strace -f records them. */
const WRITE_CALLS =
  "open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,unlink,unlinkat,rmdir,truncate,chmod,fchmodat";

interface WriteCall {
  readonly call: string;
  readonly path: string;
  readonly ok: boolean;
  readonly line: string;
}

/** The writes in an strace -f log (paths resolved against the working directory). */
function writesOf(trace: string, cwd: string): WriteCall[] {
  const out: WriteCall[] = [];
  for (const line of trace.split("\n")) {
    const m = /^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (m === null) continue;
    const [, call, args, result] = m as unknown as [string, string, string, string];
    if ((call === "open" || call === "openat") && !/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(args)) continue;
    for (const quoted of args.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
      const raw = quoted[1] as string;
      out.push({ call, path: isAbsolute(raw) ? raw : resolve(cwd, raw), ok: Number(result) >= 0, line });
    }
  }
  return out;
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

async function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | string> {
  if (child.exitCode !== null) return child.exitCode;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  clearTimeout(timer);
  return code ?? signal ?? "unknown";
}

describe.skipIf(process.platform !== "linux")("the relay on a read-only root file system", () => {
  it("writes only its SQLite ledger in data/, and skips the compile cache it cannot create", async () => {
    const layout = imageLayout();
    const sqs = new SQSClient({
      endpoint: (sqsServer as StartedFauxqs).endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const queue = async (name: string) =>
      (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl as string;
    const [input, succeeded, failed, dlq] = await Promise.all(["in", "ok", "no", "dlq"].map(queue));
    const dojo = createSimControl(sim?.url as string);
    const pi = await dojo.createIntent({ amount: 2500, status: "Captured" });

    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: layout.home,
      TMPDIR: layout.tmp,
      NODE_ENV: "production",
      RELAY_SOURCE: "sqs",
      SQS_ENDPOINT: sqsServer?.endpoint as string,
      SQS_INPUT_QUEUE_URL: input as string,
      SQS_SUCCEEDED_QUEUE_URL: succeeded as string,
      SQS_FAILED_QUEUE_URL: failed as string,
      SQS_DLQ_URL: dlq as string,
      SQS_WAIT_TIME_S: "1",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      DOJO_BASE_URL: sim?.url as string,
      DOJO_API_KEY: KEY,
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
    };
    const traceFile = join(box, "trace");
    const asUser = AS_ROOT ? ["setpriv", `--reuid=${UID}`, `--regid=${UID}`, "--clear-groups"] : [];
    // `start` runs itself again with its heap limits (execve), which the image's user may do: its node
    // is executable by everyone. Here, as root, node may sit where that user cannot reach it (a cache
    // under /root); then a copy beside the layout stands in for the image's node.
    const reachable =
      spawnSync(
        asUser[0] ?? process.execPath,
        [
          ...asUser.slice(1),
          ...(AS_ROOT ? [process.execPath] : []),
          "-e",
          "require('fs').accessSync(process.execPath, 1)",
        ],
        { stdio: "ignore" },
      ).status === 0;
    const node = reachable ? process.execPath : join(box, "node");
    if (!reachable) {
      copyFileSync(process.execPath, node);
      chmodSync(node, 0o755);
    }
    const relayArgs = [...asUser, node, join(layout.app, "bin", "refund-relay.js"), "start"];
    const argv = STRACE
      ? ["strace", "-f", "-qq", "-e", `trace=${WRITE_CALLS}`, "-o", traceFile, ...relayArgs]
      : relayArgs;
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: layout.app,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      // The relay's own pid (strace and setpriv stand between), from its first log line.
      await expect
        .poll(() => /"pid":(\d+)/.test(stdout) && /refund-relay started/.test(stdout), { timeout: 30_000 })
        .toBe(true);
      const pid = Number(/"pid":(\d+)/.exec(stdout)?.[1]);
      const event = returnApproved({ paymentIntentId: pi, amount: 2500 });
      await sqs.send(new SendMessageCommand({ QueueUrl: input, MessageBody: JSON.stringify(event) }));
      await expect.poll(async () => (await dojo.refundsOf(pi)).refunds.length, { timeout: 30_000 }).toBe(1);
      // Its outcome is out (and so recorded in the ledger) before the drain.
      await expect
        .poll(
          async () =>
            (await sqs.send(new ReceiveMessageCommand({ QueueUrl: succeeded, WaitTimeSeconds: 1 }))).Messages
              ?.length ?? 0,
          { timeout: 15_000 },
        )
        .toBeGreaterThan(0);
      process.kill(pid, "SIGTERM");
      expect(await exitOf(child, 30_000), stderr + stdout).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      sqs.destroy();
    }

    // Nothing complained about a file it could not write, and the cache was not made anywhere.
    expect(stderr).toBe("");
    expect(`${stdout}`).not.toMatch(/EACCES|EROFS|EPERM|compile cache/i);
    expect(readdirSync(layout.nodeModules)).toEqual([]);
    expect(readdirSync(layout.home)).toEqual([]);
    expect(readdirSync(layout.data)).toContain("refund-relay.db");
    if (!STRACE) return;

    const writes = writesOf(readFileSync(traceFile, "utf8"), layout.app);
    // The relay itself was traced: its ledger was created where the image lets it write.
    expect(writes.some((w) => w.ok && w.path === join(layout.data, "refund-relay.db"))).toBe(true);
    const allowed = (w: WriteCall) =>
      inside(w.path, layout.data) || inside(w.path, layout.tmp) || w.path === "/dev/null";
    expect(writes.filter((w) => w.ok && !allowed(w)).map((w) => w.line)).toEqual([]);
    // Tried and refused elsewhere: only the compile cache's directory, which is then not used.
    const cache = join(layout.nodeModules, ".cache");
    expect(writes.filter((w) => !w.ok && !allowed(w) && !inside(w.path, cache)).map((w) => w.line)).toEqual(
      [],
    );
    expect(existsSync(cache)).toBe(false);
  }, 60_000);
});
