// `refund-relay schemas`: the event contracts as files, for teams that emit or consume the events. The
// same files `npm run schemas` writes to schemas/generated/ (rendered by schemas/artifacts.ts), printed
// or written to a directory of one's choice.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { renderArtifacts } from "../../schemas/artifacts.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";

const HELP = `usage: refund-relay schemas [--format json|asyncapi] [--out DIR]

The event contracts (return.approved consumed; refund.succeeded and refund.failed published), as
\`npm run schemas\` generates them into schemas/generated/:

  --format json       JSON Schema (draft 2020-12): per event an accept and an emit view of the whole
                      structured-mode CloudEvent, and its data schema (json-schema/*.schema.json)
  --format asyncapi   the AsyncAPI 3.0 document: topics, queues, messages and operations (asyncapi.json)
  (no --format)       all of the above, and one example of each event (examples/*.json)

options:
  --out DIR     write the files under DIR (created when missing; other files in it are left alone)
                instead of printing them; one file prints as it is, several as one JSON object
                keyed by path
  -h, --help    this help

exit status: 0 printed or written, 1 a file could not be written, 2 usage error.
`;

const FORMATS = {
  json: (path: string) => path.startsWith("json-schema/"),
  asyncapi: (path: string) => path === "asyncapi.json",
} as const;

type Format = keyof typeof FORMATS;

/** The contract files selected by `format` (all when undefined), path relative to the output -> text. */
export function contractFiles(format: Format | undefined): Map<string, string> {
  const all = renderArtifacts();
  if (format === undefined) return all;
  return new Map([...all].filter(([path]) => FORMATS[format](path)));
}

export async function runSchemas(args: readonly string[], io: CliIo): Promise<number> {
  let values: { format?: string | undefined; out?: string | undefined; help?: boolean | undefined };
  try {
    values = parseArgs({
      args: [...args],
      options: {
        format: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    io.stderr.write(`refund-relay schemas: ${(error as Error).message}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  if (values.help === true) {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  const format = values.format;
  if (format !== undefined && !Object.hasOwn(FORMATS, format)) {
    io.stderr.write(`refund-relay schemas: --format must be json or asyncapi, got "${format}"\n\n${HELP}`);
    return EXIT_USAGE;
  }
  if (values.out === "") {
    io.stderr.write(`refund-relay schemas: --out needs a directory\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const files = contractFiles(format as Format | undefined);
  if (values.out === undefined) {
    // A reader that stops early (schemas | head) is not an error.
    io.stdout.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
    if (files.size === 1) {
      io.stdout.write([...files.values()][0] ?? "");
    } else {
      const all = Object.fromEntries([...files].map(([path, text]) => [path, JSON.parse(text) as unknown]));
      io.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    }
    return EXIT_OK;
  }
  const out = resolve(values.out);
  try {
    for (const [path, text] of files) {
      const target = join(out, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, text);
    }
  } catch (error) {
    io.stderr.write(`refund-relay schemas: cannot write to ${out}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
  io.stdout.write(`wrote ${files.size} files to ${out}\n`);
  return EXIT_OK;
}

export const schemasCommand: Subcommand = {
  summary: "print or export the event contracts (JSON Schema, AsyncAPI)",
  run: runSchemas,
};
