#!/usr/bin/env node
// The refund-relay command. Node.js (>= 22.18) runs the TypeScript sources directly by stripping types.
import { enableCompileCache } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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
const { main } = await import("../src/cli/main.ts");

process.exitCode = await main(process.argv.slice(2));
