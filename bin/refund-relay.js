#!/usr/bin/env node
// The refund-relay command. Node.js (>= 22.18) runs the TypeScript sources directly by stripping types.
import { accessSync, constants } from "node:fs";
import { enableCompileCache } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapStatistics } from "node:v8";

// Node's compile cache keeps the type-stripped sources (and V8's code for them), so later starts load
// no TypeScript stripper: about 15 MiB less resident per thread that loads TypeScript (this one and
// the SQLite ledger's worker), and a faster start. It lives with the dependencies, which are as
// trusted as the code; where it cannot be written it is simply not used. NODE_COMPILE_CACHE chooses
// another directory, NODE_DISABLE_COMPILE_CACHE=1 turns it off. Set in the environment, it also
// reaches worker threads.
if (process.env.NODE_COMPILE_CACHE === undefined) {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const cache = join(root, "node_modules", ".cache", "refund-relay-compile");
  const { directory } = enableCompileCache(cache);
  if (directory !== undefined) process.env.NODE_COMPILE_CACHE = directory;
}

// `start` runs with the relay's V8 heap limits (src/heap-limits.ts) unless the user sized the heap or set
// RELAY_HEAP_LIMITS=node. V8 reads them only when a process starts, so the process runs itself again with
// them: execve replaces its image and keeps its process id, so signals, the exit code and PID 1 in a
// container stay the relay's. Where execve is missing (Windows) or refused (the permission model), the
// relay runs with Node's own limits and says so.
const { heapFlags, HEAP_LIMITS_VARIABLE } = await import("../src/heap-limits.ts");
const flags = heapFlags({
  command: process.argv[2],
  execArgv: process.execArgv,
  env: process.env,
  heapLimitMiB: getHeapStatistics().heap_size_limit / 2 ** 20,
});
if (flags.length > 0) {
  try {
    if (typeof process.execve !== "function") throw new Error("process.execve is not available here");
    // A failed execve(2) ends the process in Node 24 rather than throwing; check what can be checked.
    accessSync(process.execPath, constants.X_OK);
    process.execve(
      process.execPath,
      [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)],
      process.env,
    );
  } catch (error) {
    process.emitWarning(
      `running with Node's heap limits: cannot apply the relay's (${error.message}); ${HEAP_LIMITS_VARIABLE}=node skips this`,
    );
  }
}

const { main } = await import("../src/cli/main.ts");

process.exitCode = await main(process.argv.slice(2));
