// `refund-relay validate [file|-]`: checks return.approved events (structured-mode CloudEvents, or SNS
// notifications wrapping one) exactly as the relay's consumer would, and prints every problem with its path.
import { readFile } from "node:fs/promises";
import { DEFAULT_MAX_MESSAGE_BYTES, type DecodeResult, decodeReturnApproved } from "../../schemas/index.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Subcommand } from "./main.ts";

const USAGE = `usage: refund-relay validate [--max-bytes <n>] [file|-]

Validates return.approved v1 events: one JSON document, or JSON lines (one event per line).
Each event is a structured-mode CloudEvent (or an SNS notification wrapping one). Reads standard
input when the file is "-" or absent.

options:
  --max-bytes <n>   largest accepted event in bytes (default ${DEFAULT_MAX_MESSAGE_BYTES})
  -h, --help        show this help

exit status: 0 every event is valid, 1 an event is invalid (or there is none), 2 usage error.
`;

interface Options {
  readonly file: string;
  readonly maxBytes: number;
}

function parseArgs(args: readonly string[]): Options | "help" | string {
  let file: string | undefined;
  let maxBytes = DEFAULT_MAX_MESSAGE_BYTES;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") return "help";
    if (arg === "--max-bytes" || arg.startsWith("--max-bytes=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i];
      if (value === undefined || !/^[1-9]\d{0,9}$/.test(value)) return "--max-bytes needs a positive integer";
      maxBytes = Number(value);
    } else if (arg.startsWith("-") && arg !== "-") {
      return `unknown option "${arg}"`;
    } else if (file !== undefined) {
      return "give at most one file";
    } else {
      file = arg;
    }
  }
  return { file: file ?? "-", maxBytes };
}

async function readInput(file: string, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  if (file !== "-") return readFile(file);
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

interface Item {
  readonly label: string;
  readonly body: Buffer | string;
}

/**
 * One document when the whole input is JSON; JSON lines when it is not but its first non-blank line is
 * (so a single malformed document is reported once, not line by line).
 */
function split(input: Buffer, name: string): Item[] {
  const text = input.toString("utf8");
  if (text.trim() === "") return [];
  if (parsesAsJson(text)) return [{ label: name, body: input }];
  const lines = text.split("\n");
  const first = lines.find((l) => l.trim() !== "");
  if (first === undefined || !parsesAsJson(first)) return [{ label: name, body: input }];
  const items: Item[] = [];
  lines.forEach((line, i) => {
    const body = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (body.trim() !== "") items.push({ label: `line ${i + 1}`, body });
  });
  return items;
}

function report(label: string, result: DecodeResult): string {
  if (result.ok)
    return `${label}: ok (${result.event.type} id=${result.event.id} source=${result.event.source})\n`;
  const count = result.issues.length === 1 ? "1 problem" : `${result.issues.length} problems`;
  const lines = result.issues.map((i) => `  ${i.path === "" ? "(message)" : i.path}: ${i.message}\n`);
  return `${label}: invalid ${result.stage}, ${count}\n${lines.join("")}`;
}

export const validateCommand: Subcommand = {
  summary: "validate return.approved events (one JSON document or JSON lines)",
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const options = parseArgs(args);
    if (options === "help") {
      io.stdout.write(USAGE);
      return EXIT_OK;
    }
    if (typeof options === "string") {
      io.stderr.write(`refund-relay validate: ${options}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    let input: Buffer;
    try {
      input = await readInput(options.file, io.stdin);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      io.stderr.write(`refund-relay validate: cannot read ${options.file}: ${reason}\n`);
      return EXIT_USAGE;
    }
    const items = split(input, options.file === "-" ? "stdin" : options.file);
    if (items.length === 0) {
      io.stdout.write("no event in input\n");
      return EXIT_FAILURE;
    }
    let invalid = 0;
    for (const item of items) {
      const result = decodeReturnApproved(
        { body: item.body, transport: "sqs" },
        { maxBytes: options.maxBytes },
      );
      if (!result.ok) invalid++;
      io.stdout.write(report(item.label, result));
    }
    if (items.length > 1) {
      io.stdout.write(`${items.length} events: ${items.length - invalid} valid, ${invalid} invalid\n`);
    }
    return invalid === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};
