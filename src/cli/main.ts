// Entry point of the `refund-relay` command: dispatches to one module per subcommand, loaded lazily so
// `refund-relay validate` does not pay for kafkajs or the AWS SDK.

export interface CliIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface Subcommand {
  readonly summary: string;
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** Exit codes shared by every subcommand. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** The relay stopped itself on a state it cannot leave; restarting the process is the way out. */
export const EXIT_FATAL = 3;

const subcommands: Record<string, () => Promise<Subcommand>> = {
  validate: async () => (await import("./validate.ts")).validateCommand,
  "dojo-sim": async () => (await import("./dojo-sim.ts")).dojoSimCommand,
  start: async () => (await import("./start.ts")).startCommand,
  reconcile: async () => (await import("./reconcile.ts")).reconcileCommand,
  ledger: async () => (await import("./ledger.ts")).ledgerCommand,
  demo: async () => (await import("./demo.ts")).demoCommand,
  inspect: async () => (await import("./inspect.ts")).inspectCommand,
  replay: async () => (await import("./replay.ts")).replayCommand,
  send: async () => (await import("./send.ts")).sendCommand,
  tail: async () => (await import("./tail.ts")).tailCommand,
  schemas: async () => (await import("./schemas.ts")).schemasCommand,
  version: async () => (await import("./version.ts")).versionCommand,
};

function usage(): string {
  return [
    "usage: refund-relay <command> [options]",
    "",
    "commands:",
    "  demo                  refunds end to end in this process (emulated SQS, simulated Dojo), checked",
    "  validate [file|-]     validate return.approved events (one JSON document or JSON lines)",
    "  dojo-sim --port <n>   run the Dojo API simulator",
    "  start                 run the relay with configuration from the environment",
    "  reconcile <list|show|settle|publish>",
    "                        list, show and settle events parked for a person",
    "  ledger <migrate|status>",
    "                        migrate the PostgreSQL ledger's schema, or show its version and counts",
    "  inspect <id>          the ledger's entries for an event, return or payment intent id (--event,",
    "                        --return, --intent, --json)",
    "  replay                move dead letters back to the input after checking them again (a dry run",
    "                        unless --apply; --force, --code, --max, --rate)",
    "  send [file|-]         publish return.approved events to the input topic or queue (--sqs, --raw,",
    "                        --dry-run, --topic, --queue-url)",
    "  tail [succeeded|failed|dlq|all]",
    "                        print outcomes and dead letters as they are published (--json, --count,",
    "                        --timeout, --from-beginning; SQS: --delete)",
    "  schemas [--out DIR] [--format json|asyncapi]",
    "                        print or export the event contracts (JSON Schema, AsyncAPI)",
    "  version               print the version (also --version, -V)",
    "",
    "Run `refund-relay <command> --help` for the options of one command.",
    "",
    "exit status: 0 ok, 1 failure, 2 usage or configuration error, 3 the relay (start) stopped itself on a",
    "state it cannot leave: restart it.",
    "",
  ].join("\n");
}

export async function main(argv: readonly string[], io: CliIo = process): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.stderr : io.stdout).write(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const load = subcommands[name === "--version" || name === "-V" ? "version" : name];
  if (load === undefined) {
    io.stderr.write(`refund-relay: unknown command "${name}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const command = await load();
  return command.run(rest, io);
}
