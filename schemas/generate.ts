// `npm run schemas`: rewrites schemas/generated/ from the zod schemas. The directory is replaced as a whole so
// a renamed artifact does not leave a stale file behind.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderArtifacts } from "./artifacts.ts";

export const GENERATED_DIR = join(dirname(fileURLToPath(import.meta.url)), "generated");

const artifacts = renderArtifacts();
rmSync(GENERATED_DIR, { recursive: true, force: true });
for (const [path, content] of artifacts) {
  const target = join(GENERATED_DIR, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, content);
}
process.stdout.write(`wrote ${artifacts.size} files to schemas/generated\n`);
