#!/usr/bin/env node
// The refund-relay command. Node.js (>= 22.18) runs the TypeScript sources directly by stripping types.
import { main } from "../src/cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
