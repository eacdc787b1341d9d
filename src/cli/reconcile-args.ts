// Command-line parsing for `refund-relay reconcile`, and the Stop that ends a command with an exit code.
import { EXIT_USAGE } from "./main.ts";

/** Ends the command with an exit code and a message for standard error. */
export class Stop extends Error {
  readonly code: number;
  /** The command line itself is wrong: the help follows the message. */
  readonly showHelp: boolean;
  constructor(code: number, message: string, showHelp = false) {
    super(message);
    this.code = code;
    this.showHelp = showHelp;
  }
}

export const usage = (message: string) => new Stop(EXIT_USAGE, message, true);

export interface Parsed {
  readonly positionals: readonly string[];
  readonly values: ReadonlyMap<string, string>;
  readonly flags: ReadonlySet<string>;
}

export function parse(
  args: readonly string[],
  valueOptions: readonly string[],
  flagOptions: readonly string[],
): Parsed | "help" {
  const positionals: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") return "help";
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg !== "-") throw usage(`unknown option "${arg}"`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (flagOptions.includes(name)) {
      if (eq >= 0) throw usage(`${name} takes no value`);
      flags.add(name);
    } else if (valueOptions.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw usage(`${name} needs a value`);
      if (values.has(name)) throw usage(`${name} given twice`);
      values.set(name, value);
    } else {
      throw usage(`unknown option "${name}"`);
    }
  }
  return { positionals, values, flags };
}

export function oneEventId(parsed: Parsed): string {
  const [eventId, extra] = parsed.positionals;
  if (eventId === undefined || eventId.trim() === "") throw usage("give the event id");
  if (extra !== undefined) throw usage(`unexpected argument "${extra}"`);
  return eventId;
}

export function nonBlank(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values.get(name);
  if (value !== undefined && value.trim() === "") throw usage(`${name} must not be empty`);
  return value?.trim();
}
