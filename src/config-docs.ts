// The README's configuration table, rendered from the same zod schemas the relay validates with: the
// name, default, accepted values and description of every setting come from its schema (and its
// `.meta({...})`), so the table cannot say what the code does not do. `npm run config:docs` rewrites
// the table between the two markers in README.md; `npm run config:docs -- --check` only compares, and
// a unit test fails when they differ.
import { readFileSync, writeFileSync } from "node:fs";
import type { z } from "zod";
import { CONFIG_GROUPS, type ConfigGroup } from "./config.ts";
import { metaOf, type VariableMeta, variablesOf } from "./config-parts.ts";

export const TABLE_START = "<!-- config-table:start -->";
export const TABLE_END = "<!-- config-table:end -->";
export const REGENERATE = "npm run config:docs";

/** One setting as the table shows it. */
export interface VariableDoc extends VariableMeta {
  readonly name: string;
  readonly group: string;
}

/** Every setting with its documentation, group by group, in the README's order. */
export function variableDocs(groups: readonly ConfigGroup[] = CONFIG_GROUPS): VariableDoc[] {
  return groups.flatMap((group) =>
    variablesOf(group.variables).map((name) => ({
      ...metaOf(group.variables.shape[name] as z.ZodType),
      name,
      group: group.title,
    })),
  );
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
const code = (text: string) => `\`${text}\``;

function defaultCell(doc: VariableDoc): string {
  if (doc.defaultText !== undefined) return doc.defaultText;
  if (doc.default === undefined) return "unset";
  return doc.default === "" ? "empty" : code(doc.default);
}

function acceptsCell(doc: VariableDoc): string {
  let accepts: string;
  if (doc.values !== undefined) accepts = doc.values.map(code).join(", ");
  else if (doc.range !== undefined) accepts = `${doc.range[0]} to ${doc.range[1]}`;
  else accepts = doc.format ?? "text";
  if (doc.unit !== undefined) accepts += ` ${doc.unit}`;
  if (doc.example !== undefined) accepts += `, e.g. ${code(doc.example)}`;
  return accepts;
}

function meaningCell(doc: VariableDoc): string {
  const description = doc.description ?? "";
  return doc.secret === true ? `${description} Secret: never logged.` : description;
}

/** The generated block, markers included, ending in a newline. */
export function renderConfigTable(groups: readonly ConfigGroup[] = CONFIG_GROUPS): string {
  const docs = variableDocs(groups);
  const lines = [
    TABLE_START,
    `<!-- Generated from the settings' zod schemas (src/config.ts, consumers/*/config.ts) by \`${REGENERATE}\`; edit the schemas, not this table. -->`,
  ];
  for (const group of groups) {
    lines.push("", `### ${group.title}`, "");
    if (group.note !== undefined) lines.push(group.note, "");
    lines.push("| variable | default | accepts | meaning |", "| --- | --- | --- | --- |");
    for (const doc of docs.filter((d) => d.group === group.title)) {
      const cells = [code(doc.name), defaultCell(doc), acceptsCell(doc), meaningCell(doc)];
      lines.push(`| ${cells.map(cell).join(" | ")} |`);
    }
  }
  lines.push("", TABLE_END);
  return `${lines.join("\n")}\n`;
}

/** The block between (and with) the markers as it is in `readme`; undefined without both markers. */
export function tableInReadme(readme: string): string | undefined {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END, start);
  if (start < 0 || end < 0) return undefined;
  const after = readme.indexOf("\n", end);
  return readme.slice(start, after < 0 ? readme.length : after + 1);
}

/** `readme` with its table replaced by `table`; throws when the markers are missing. */
export function replaceTable(readme: string, table: string): string {
  const current = tableInReadme(readme);
  if (current === undefined) {
    throw new Error(`README.md has no ${TABLE_START} … ${TABLE_END} block to write the table into`);
  }
  const start = readme.indexOf(TABLE_START);
  return readme.slice(0, start) + table + readme.slice(start + current.length);
}

export const README = new URL("../README.md", import.meta.url);

if (import.meta.main) {
  const readme = readFileSync(README, "utf8");
  const updated = replaceTable(readme, renderConfigTable());
  if (process.argv.includes("--check")) {
    if (updated !== readme) {
      process.stderr.write(
        `README.md's configuration table differs from the schemas; run \`${REGENERATE}\`\n`,
      );
      process.exitCode = 1;
    }
  } else if (updated === readme) {
    process.stdout.write("README.md: the configuration table is up to date\n");
  } else {
    writeFileSync(README, updated);
    process.stdout.write("README.md: configuration table regenerated from the schemas\n");
  }
}
