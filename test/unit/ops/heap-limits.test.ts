import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type HeapContext,
  heapFlags,
  heapNeededMiB,
  heapShortfall,
  RELAY_OLD_SPACE_MIB,
  RELAY_SEMI_SPACE_MIB,
} from "../../../src/heap-limits.ts";

const RELAY_FLAGS = [
  `--max-semi-space-size=${RELAY_SEMI_SPACE_MIB}`,
  `--max-old-space-size=${RELAY_OLD_SPACE_MIB}`,
];
const LARGE_HOST: HeapContext = { command: "start", execArgv: [], env: {}, heapLimitMiB: 4288 };

describe("heapFlags", () => {
  it("gives start the relay's limits on a host where Node would size a larger heap", () => {
    expect(heapFlags(LARGE_HOST)).toEqual(RELAY_FLAGS);
    expect(heapFlags({ ...LARGE_HOST, env: { RELAY_HEAP_LIMITS: "relay" } })).toEqual(RELAY_FLAGS);
  });

  it("leaves every other command alone", () => {
    for (const command of ["send", "tail", "reconcile", "demo", "validate", undefined]) {
      expect(heapFlags({ ...LARGE_HOST, command })).toEqual([]);
    }
  });

  it("leaves Node's limits with RELAY_HEAP_LIMITS=node, and with a value the configuration check refuses", () => {
    expect(heapFlags({ ...LARGE_HOST, env: { RELAY_HEAP_LIMITS: "node" } })).toEqual([]);
    expect(heapFlags({ ...LARGE_HOST, env: { RELAY_HEAP_LIMITS: "small" } })).toEqual([]);
  });

  it.each([
    ["--max-old-space-size=2048"],
    ["--max_old_space_size=2048"],
    ["--max-semi-space-size=64"],
    ["--max-heap-size=1024"],
    ["--max-young-generation-size=48"],
    ["--min-semi-space-size=4"],
    ["--initial-heap-size=64"],
    ["--max-old-space-size-percentage=50"],
  ])("respects a heap size the user gave (%s), in node's arguments or NODE_OPTIONS", (flag) => {
    expect(heapFlags({ ...LARGE_HOST, execArgv: ["--enable-source-maps", flag] })).toEqual([]);
    expect(heapFlags({ ...LARGE_HOST, env: { NODE_OPTIONS: `--enable-source-maps  ${flag}` } })).toEqual([]);
  });

  it.each([["--inspect"], ["--inspect=0"], ["--inspect-brk=127.0.0.1:9230"], ["--inspect-wait"]])(
    "does not run again under the inspector (%s), which would open it twice",
    (flag) => {
      expect(heapFlags({ ...LARGE_HOST, execArgv: [flag] })).toEqual([]);
      expect(heapFlags({ ...LARGE_HOST, env: { NODE_OPTIONS: flag } })).toEqual([]);
    },
  );

  it("is not put off by other flags", () => {
    expect(
      heapFlags({
        ...LARGE_HOST,
        execArgv: ["--cpu-prof", "--max-http-header-size=16384", "--inspect-port=9230"],
        env: { NODE_OPTIONS: "--enable-source-maps --max-semi-space" },
      }),
    ).toEqual(RELAY_FLAGS);
  });

  it("never raises a limit Node already chose lower (a container's memory limit)", () => {
    const same = RELAY_OLD_SPACE_MIB + 3 * RELAY_SEMI_SPACE_MIB;
    expect(heapFlags({ ...LARGE_HOST, heapLimitMiB: 259 })).toEqual([]);
    expect(heapFlags({ ...LARGE_HOST, heapLimitMiB: same })).toEqual([]);
    expect(heapFlags({ ...LARGE_HOST, heapLimitMiB: same + 1 })).toEqual(RELAY_FLAGS);
  });
});

describe("bin/refund-relay.js start", () => {
  // The relay refuses this configuration before it connects to anything; by then the launcher has run
  // itself again. A module preloaded with --import prints each process image's heap limit to stderr.
  const bin = join(import.meta.dirname, "../../../bin/refund-relay.js");
  const probe = `data:text/javascript,${encodeURIComponent(
    'import v8 from "node:v8"; process.stderr.write("heap-limit-mib=" + v8.getHeapStatistics().heap_size_limit / 2 ** 20 + "\\n");',
  )}`;
  const run = (env: Record<string, string>, args: string[] = []) => {
    const result = spawnSync(process.execPath, [...args, "--import", probe, bin, "start"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      encoding: "utf8",
      timeout: 60_000,
    });
    const limits = [...result.stderr.matchAll(/heap-limit-mib=(\d+)/g)].map((m) => Number(m[1]));
    return { status: result.status, limits, stderr: result.stderr };
  };

  const relayLimit = RELAY_OLD_SPACE_MIB + 3 * RELAY_SEMI_SPACE_MIB;

  it("runs itself again with the relay's limits, once, unless Node's own are smaller", () => {
    const r = run({});
    expect(r.stderr).toContain("invalid configuration");
    expect(r.status).toBe(2);
    // The first line is Node's own limit; after execve (same process id) the relay's limit follows.
    const nodeLimit = r.limits[0]!;
    expect(nodeLimit).toBeGreaterThan(0);
    expect(r.limits).toEqual(nodeLimit > relayLimit ? [nodeLimit, relayLimit] : [nodeLimit]);
  });

  it("runs once with Node's limits when told so or when the heap is sized", () => {
    const told = run({ RELAY_HEAP_LIMITS: "node" });
    expect(told.limits).toHaveLength(1);
    expect(told.stderr).toContain("invalid configuration");
    const sized = run({}, ["--max-old-space-size=700"]);
    expect(sized.limits).toHaveLength(1);
    expect(sized.limits[0]).toBeGreaterThanOrEqual(700);
    const viaOptions = run({ NODE_OPTIONS: "--max-old-space-size=700" });
    expect(viaOptions.limits).toHaveLength(1);
    expect(viaOptions.limits[0]).toBeGreaterThanOrEqual(700);
  });
});

describe("heap needed for the events held", () => {
  it("is the live heap (45 MiB plus 4 KiB an event) twice over", () => {
    expect(heapNeededMiB(0)).toBe(90);
    expect(heapNeededMiB(768)).toBe(96);
    expect(heapNeededMiB(100_000)).toBe(872);
  });

  it("is enough under the relay's own limits with the defaults (12 partitions x 64)", () => {
    expect(heapShortfall(12 * 64, "12 partitions", "lower it", 432)).toBeUndefined();
  });

  it("names the events, the limit, the heap needed and what to change when the limit is short", () => {
    const short = heapShortfall(
      100_000,
      "100 partitions x 1000",
      "lower KAFKA_MAX_IN_FLIGHT_PER_PARTITION",
      432,
    );
    expect(short?.fields).toEqual({ eventsHeld: 100_000, heapLimitMiB: 432, heapNeededMiB: 872 });
    expect(short?.message).toContain("100000 events (100 partitions x 1000)");
    expect(short?.message).toContain("NODE_OPTIONS=--max-old-space-size=872");
    expect(short?.message).toContain("lower KAFKA_MAX_IN_FLIGHT_PER_PARTITION");
    expect(heapShortfall(100_000, "x", "y", 872)).toBeUndefined();
    expect(heapShortfall(100_000, "x", "y", 871)).toBeDefined();
  });
});
