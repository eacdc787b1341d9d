// `refund-relay version` (also `--version`, `-V`): the package's version and the Node.js running it.
import { readFileSync } from "node:fs";
import { type CliIo, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";

const HELP = `usage: refund-relay version   (or refund-relay --version, refund-relay -V)

Prints refund-relay's version (from its package.json) and the version of Node.js running it.

exit status: 0 printed, 2 usage error.
`;

/** The version in the package.json next to the sources. */
export function packageVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === "string" ? version : "unknown";
}

export async function runVersion(args: readonly string[], io: CliIo): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  if (args.length > 0) {
    io.stderr.write(`refund-relay version: unexpected argument "${args[0]}"\n\n${HELP}`);
    return EXIT_USAGE;
  }
  io.stdout.write(`refund-relay ${packageVersion()} (Node.js ${process.version})\n`);
  return EXIT_OK;
}

export const versionCommand: Subcommand = {
  summary: "print refund-relay's version and Node.js's",
  run: runVersion,
};
