import { spawn } from "node:child_process";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { runDojoSim } from "../../../src/cli/dojo-sim.ts";
import { main } from "../../../src/cli/main.ts";

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr }, text, stdout };
}

describe("refund-relay dojo-sim", () => {
  it("prints its usage on --help and exits 0", async () => {
    const { io: streams, text } = io();
    expect(await main(["dojo-sim", "--help"], streams)).toBe(0);
    expect(text.out).toContain("--port");
  });

  it.each([
    [[]],
    [["--port", "abc"]],
    [["--port", "70000"]],
    [["--port", "0", "--seed", "x"]],
    [["--port", "0", "--bogus"]],
    [["--port", "0", "--api-key", "pk_x"]],
  ])("exits 2 on bad usage %j", async (args) => {
    const { io: streams, text } = io();
    expect(await runDojoSim(args, streams)).toBe(2);
    expect(text.err).toContain("usage:");
  });

  it("prints the URL, serves requests with the given key, and returns 0 when stopped", async () => {
    const { io: streams, stdout } = io();
    const stop = new AbortController();
    const running = runDojoSim(["--port", "0", "--api-key", "sk_sandbox_cli", "--seed", "3"], streams, {
      stop: stop.signal,
    });
    const [chunk] = (await once(stdout, "data")) as [Buffer];
    const url = chunk.toString().trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/payment-intents/pi_1`, {
      headers: { authorization: "Basic sk_sandbox_cli", version: "2026-02-27" },
    });
    expect(res.status).toBe(404);
    stop.abort();
    expect(await running).toBe(0);
  });

  it("runs as a process until SIGTERM, then exits 0", async () => {
    const child = spawn(process.execPath, ["bin/refund-relay.js", "dojo-sim", "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const [chunk] = (await once(child.stdout, "data")) as [Buffer];
    const url = chunk.toString().trim();
    expect((await fetch(`${url}/_sim/stats`)).status).toBe(200);
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
  });
});
