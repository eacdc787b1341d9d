// `refund-relay dojo-sim`: runs the Dojo API simulator until SIGINT or SIGTERM.
import { parseArgs } from "node:util";
import { startDojoSimulator } from "../sim/index.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";

const USAGE = [
  "usage: refund-relay dojo-sim --port <n> [--host 127.0.0.1] [--api-key sk_sandbox_x ...] [--seed n]",
  "",
  "  --port <n>       port to listen on (0 picks a free one)",
  "  --host <addr>    address to bind (default 127.0.0.1)",
  "  --api-key <key>  accepted secret key, repeatable (default sk_sandbox_test)",
  "  --seed <n>       seed for injected faults (default 1)",
  "",
  "Test routes live under /_sim/ (see src/sim/README.md).",
  "",
].join("\n");

export interface DojoSimRunOptions {
  /** Stops the simulator when it aborts; the command itself uses SIGINT/SIGTERM. */
  readonly stop?: AbortSignal;
}

export async function runDojoSim(
  args: readonly string[],
  io: CliIo,
  options: DojoSimRunOptions = {},
): Promise<number> {
  let values: { port?: string; host?: string; "api-key"?: string[]; seed?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "api-key": { type: "string", multiple: true },
        seed: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(`refund-relay dojo-sim: ${(error as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  const port = parseInteger(values.port, 0, 65535);
  const seed = values.seed === undefined ? 1 : parseInteger(values.seed, 0, 2 ** 32 - 1);
  if (port === undefined || seed === undefined) {
    io.stderr.write(
      `refund-relay dojo-sim: --port (0-65535) is required and --seed must be an integer\n\n${USAGE}`,
    );
    return EXIT_USAGE;
  }
  const keys = values["api-key"] ?? ["sk_sandbox_test"];
  if (keys.some((k) => !/^sk_(sandbox|prod)_\S+$/.test(k))) {
    io.stderr.write(
      `refund-relay dojo-sim: every --api-key must start with sk_sandbox_ or sk_prod_\n\n${USAGE}`,
    );
    return EXIT_USAGE;
  }
  let sim: Awaited<ReturnType<typeof startDojoSimulator>>;
  try {
    sim = await startDojoSimulator({ port, host: values.host ?? "127.0.0.1", apiKeys: keys, seed });
  } catch (error) {
    io.stderr.write(
      `refund-relay dojo-sim: cannot listen: ${(error as NodeJS.ErrnoException).code ?? "error"}\n`,
    );
    return EXIT_FAILURE;
  }
  io.stdout.write(`${sim.url}\n`);
  await waitForStop(options.stop);
  await sim.close();
  return EXIT_OK;
}

function waitForStop(stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      stop?.removeEventListener("abort", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
    if (stop?.aborted) done();
    else stop?.addEventListener("abort", done, { once: true });
  });
}

function parseInteger(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

export const dojoSimCommand: Subcommand = {
  summary: "run the Dojo API simulator",
  run: (args, io) => runDojoSim(args, io),
};
