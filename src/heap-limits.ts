// The V8 heap limits `refund-relay start` runs with. Node sizes its heap from the machine's memory: on a
// host with 16 GiB or more a 4 GiB old generation, which V8 lets grow to several times what survived its
// last full collection, and a young generation of 2 x 64 MiB, resident once used. The relay's live heap
// is 40 to 50 MiB plus about 4 KiB per event it holds (bounded by its settings), so those limits only
// let garbage pile up: 400 to 450 MiB resident under a backlog instead of 220 to 245 with the limits here
// (BENCHMARKS.md, "Memory"). V8 reads heap flags when the process starts, so the launcher runs itself
// again with them (bin/refund-relay.js).
import { getHeapStatistics } from "node:v8";

/** Semi-space (half the young generation) and old generation limits, MiB. */
export const RELAY_SEMI_SPACE_MIB = 16;
export const RELAY_OLD_SPACE_MIB = 384;

/** The switch: `relay` (the default) applies the limits above, `node` leaves Node's own. */
export const HEAP_LIMITS_VARIABLE = "RELAY_HEAP_LIMITS";

/** V8 and Node flags that size the heap; given any of them, the user chose, and nothing is added. */
const SIZING_FLAG =
  /^--(?:max|min|initial)[-_](?:old[-_]space|semi[-_]space|young[-_]generation|heap)[-_]size(?:[-_]percentage)?(?:=|$)/;

export interface HeapContext {
  /** The subcommand (`start` is the only long-running one). */
  readonly command: string | undefined;
  /** Node's own arguments (process.execArgv). */
  readonly execArgv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The heap limit Node chose for this process, MiB (v8.getHeapStatistics().heap_size_limit). */
  readonly heapLimitMiB: number;
}

/** The inspector: running again would open it a second time (and stop again with --inspect-brk). */
const INSPECTOR_FLAG = /^--inspect(?:-brk|-wait)?(?:=|$)/;

function sizesHeap(args: readonly string[]): boolean {
  return args.some((arg) => SIZING_FLAG.test(arg));
}

function inspects(args: readonly string[]): boolean {
  return args.some((arg) => INSPECTOR_FLAG.test(arg));
}

/** NODE_OPTIONS split as Node does for plain flags (quotes are rare there and hold no sizing flag). */
function nodeOptions(env: HeapContext["env"]): string[] {
  return (env.NODE_OPTIONS ?? "").split(/\s+/).filter((a) => a !== "");
}

/**
 * The flags to run `start` with, or none: for other commands, when RELAY_HEAP_LIMITS is set to anything
 * but `relay` (an invalid value is reported by the configuration check), when the user sized the heap
 * in node's arguments or NODE_OPTIONS or runs it under the inspector, and when Node's own limit is
 * already no larger than these (a container with a memory limit of about 768 MiB or less), so a
 * setting never gets a larger heap.
 */
export function heapFlags(ctx: HeapContext): string[] {
  if (ctx.command !== "start") return [];
  const choice = ctx.env[HEAP_LIMITS_VARIABLE];
  if (choice !== undefined && choice !== "relay") return [];
  const args = [...ctx.execArgv, ...nodeOptions(ctx.env)];
  if (sizesHeap(args) || inspects(args)) return [];
  // V8's limit counts the old generation and the young one's three halves (two semi-spaces and the
  // space for objects that do not fit a page).
  if (ctx.heapLimitMiB <= RELAY_OLD_SPACE_MIB + 3 * RELAY_SEMI_SPACE_MIB) return [];
  return [`--max-semi-space-size=${RELAY_SEMI_SPACE_MIB}`, `--max-old-space-size=${RELAY_OLD_SPACE_MIB}`];
}

/** The live heap of a relay holding nothing, and what each event it holds adds (BENCHMARKS.md). */
const BASE_HEAP_MIB = 45;
const HEAP_PER_EVENT_KIB = 4;

/**
 * The heap limit an instance holding `events` at once should run with, MiB: its live heap at that
 * size, twice over, so the collector has room and the process does not abort out of memory.
 */
export function heapNeededMiB(events: number): number {
  return Math.ceil(2 * (BASE_HEAP_MIB + (events * HEAP_PER_EVENT_KIB) / 1024));
}

/** The heap limit of this process, MiB (V8's heap_size_limit). */
export function currentHeapLimitMiB(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 1024 / 1024);
}

/**
 * A warning for the log when an instance may hold `events` at once and its heap limit is below what
 * that needs (heapNeededMiB); undefined when the limit is enough. `why` says where the number comes
 * from (the settings), `remedy` which setting lowers it.
 */
export function heapShortfall(
  events: number,
  why: string,
  remedy: string,
  heapLimitMiB: number = currentHeapLimitMiB(),
):
  | {
      readonly fields: { eventsHeld: number; heapLimitMiB: number; heapNeededMiB: number };
      readonly message: string;
    }
  | undefined {
  const neededMiB = heapNeededMiB(events);
  if (heapLimitMiB >= neededMiB) return undefined;
  return {
    fields: { eventsHeld: events, heapLimitMiB, heapNeededMiB: neededMiB },
    message: `this instance may hold ${events} events (${why}) and its heap limit of ${heapLimitMiB} MiB is below the ${neededMiB} MiB that needs: run it with NODE_OPTIONS=--max-old-space-size=${neededMiB} (and the memory for it), or ${remedy}, or it may abort out of memory under a backlog`,
  };
}
