import { type CliIo, EXIT_FAILURE, type Subcommand } from "./main.ts";

// Placeholder until the subcommand lands.
export const dojoSimCommand: Subcommand = {
  summary: "dojo-sim (not available yet)",
  async run(_args: readonly string[], io: CliIo): Promise<number> {
    io.stderr.write("refund-relay dojo-sim: not available in this build\n");
    return EXIT_FAILURE;
  },
};
