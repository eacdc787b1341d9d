// Runs the simulator in its own process, so the measured side does not share an event loop with it.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/refund-relay.js", import.meta.url));

export interface SimProcess {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startSimProcess(apiKey: string): Promise<SimProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, "dojo-sim", "--port", "0", "--host", "127.0.0.1", "--api-key", apiKey],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const stdout = child.stdout;
  if (stdout === null) throw new Error("no stdout from dojo-sim");
  const timer = setTimeout(() => child.kill("SIGTERM"), 10_000);
  const [chunk] = (await once(stdout, "data")) as [Buffer];
  clearTimeout(timer);
  const url = chunk.toString().trim();
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`unexpected simulator address ${url}`);
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}
