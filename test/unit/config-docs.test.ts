import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CONFIG_GROUPS, type ConfigGroup, KNOWN_VARIABLES } from "../../src/config.ts";
import {
  README,
  REGENERATE,
  renderConfigTable,
  replaceTable,
  TABLE_END,
  TABLE_START,
  tableInReadme,
  variableDocs,
} from "../../src/config-docs.ts";
import { bool, int, optionalText, text, variablesOf } from "../../src/config-parts.ts";

const docs = variableDocs();
const schemaOf = (name: string): z.ZodType => {
  for (const group of CONFIG_GROUPS) {
    const schema = group.variables.shape[name];
    if (schema !== undefined) return schema as z.ZodType;
  }
  throw new Error(`no schema for ${name}`);
};

describe("the settings' documentation", () => {
  it("covers every variable of every schema once, in the groups the README shows", () => {
    expect(docs.map((d) => d.name).sort()).toEqual([...KNOWN_VARIABLES].sort());
    expect(new Set(docs.map((d) => d.name)).size).toBe(docs.length);
    expect(CONFIG_GROUPS.map((g) => g.title)).toEqual([
      "General",
      "Dojo",
      "Ledger",
      "Kafka",
      "SQS",
      "Logs, health and metrics",
    ]);
    expect(docs.find((d) => d.name === "DOJO_TIMEOUT_MS")?.group).toBe("Dojo");
    expect(docs.find((d) => d.name === "SQS_WAIT_TIME_S")?.group).toBe("SQS");
    expect(docs.find((d) => d.name === "READY_STALL_MS")?.group).toBe("Logs, health and metrics");
  });

  it("gives every variable a description of its own, as a sentence", () => {
    const missing = docs.filter((d) => typeof d.description !== "string" || d.description.trim().length < 10);
    expect(missing.map((d) => d.name)).toEqual([]);
    for (const doc of docs) expect(doc.description, doc.name).toMatch(/[.)]$/);
  });

  it("states the unit of every duration and size", () => {
    const expected: Record<string, string> = { _MS: "ms", _S: "s", _DAYS: "days", _BYTES: "bytes" };
    for (const doc of docs) {
      const suffix = Object.keys(expected).find((s) => doc.name.endsWith(s));
      if (suffix !== undefined) expect(doc.unit, doc.name).toBe(expected[suffix]);
    }
  });

  it("says for every variable what it defaults to, or that it is unset or required", () => {
    for (const doc of docs) {
      const schema = schemaOf(doc.name);
      const unset = schema.safeParse(undefined);
      if (doc.default !== undefined) {
        // The documented default, written in the environment, gives what an unset variable gives.
        expect(schema.safeParse(doc.default).data, doc.name).toEqual(unset.data);
      } else if (doc.defaultText === undefined) {
        expect(unset.data, `${doc.name} has a default the table does not show`).toBeUndefined();
      }
    }
  });

  it("documents the ranges and values the schemas accept, no more and no less", () => {
    for (const doc of docs) {
      const schema = schemaOf(doc.name);
      if (doc.range !== undefined) {
        const [min, max] = doc.range;
        expect(schema.safeParse(String(min)).success, doc.name).toBe(true);
        expect(schema.safeParse(String(max)).success, doc.name).toBe(true);
        expect(schema.safeParse(String(min - 1)).success, doc.name).toBe(false);
        expect(schema.safeParse(String(max + 1)).success, doc.name).toBe(false);
      }
      for (const value of doc.values ?? []) expect(schema.safeParse(value).success, doc.name).toBe(true);
      if (doc.values !== undefined)
        expect(schema.safeParse("surely-not-a-value").success, doc.name).toBe(false);
    }
  });

  it("marks the secrets", () => {
    const secrets = docs.filter((d) => d.secret === true).map((d) => d.name);
    expect(secrets).toEqual(
      expect.arrayContaining([
        "DOJO_API_KEY",
        "DOJO_ACCOUNTS_JSON",
        "PGPASSWORD",
        "KAFKA_SASL_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
      ]),
    );
    expect(secrets).not.toContain("DOJO_API_KEY_FILE");
  });
});

describe("renderConfigTable", () => {
  const sample: ConfigGroup[] = [
    {
      title: "Sample",
      note: "Only a sample.",
      variables: z.object({
        SAMPLE_MS: int(250, 10, 1000).meta({ description: "A delay.", unit: "ms" }),
        SAMPLE_ON: bool(true).meta({ description: "A switch." }),
        SAMPLE_MODE: z.enum(["a", "b"]).default("b").meta({ description: "A choice | with a pipe." }),
        SAMPLE_NAME: text("relay").meta({ description: "A name.", example: "relay-eu" }),
        SAMPLE_KEY: optionalText.meta({ description: "A key.", secret: true, format: "`sk_…`" }),
        SAMPLE_URL: optionalText.meta({ description: "A URL.", defaultText: "required" }),
      }),
    },
  ];

  it("renders one row per variable with its default, what it accepts and its description", () => {
    const table = renderConfigTable(sample);
    expect(table.startsWith(`${TABLE_START}\n`)).toBe(true);
    expect(table.endsWith(`${TABLE_END}\n`)).toBe(true);
    expect(table).toContain("### Sample\n\nOnly a sample.\n\n| variable | default | accepts | meaning |");
    expect(table).toContain("| `SAMPLE_MS` | `250` | 10 to 1000 ms | A delay. |");
    expect(table).toContain("| `SAMPLE_ON` | `true` | `true`, `false` | A switch. |");
    expect(table).toContain("| `SAMPLE_MODE` | `b` | `a`, `b` | A choice \\| with a pipe. |");
    expect(table).toContain("| `SAMPLE_NAME` | `relay` | text, e.g. `relay-eu` | A name. |");
    expect(table).toContain("| `SAMPLE_KEY` | unset | `sk_…` | A key. Secret: never logged. |");
    expect(table).toContain("| `SAMPLE_URL` | required | text | A URL. |");
    expect(table).toContain(REGENERATE);
  });

  it("lists every setting of the relay", () => {
    const table = renderConfigTable();
    for (const group of CONFIG_GROUPS) {
      expect(table).toContain(`\n### ${group.title}\n`);
      for (const name of variablesOf(group.variables)) expect(table).toContain(`| \`${name}\` |`);
    }
  });

  it("replaces only what lies between the markers", () => {
    const readme = `# Title\n\nbefore\n\n${TABLE_START}\nold table\n${TABLE_END}\n\nafter\n`;
    const updated = replaceTable(readme, renderConfigTable(sample));
    expect(updated.startsWith("# Title\n\nbefore\n\n")).toBe(true);
    expect(updated.endsWith("\n\nafter\n")).toBe(true);
    expect(updated).not.toContain("old table");
    expect(tableInReadme(updated)).toBe(renderConfigTable(sample));
    expect(replaceTable(updated, renderConfigTable(sample))).toBe(updated);
    expect(() => replaceTable("# no markers\n", "x")).toThrow(/config-table:start/);
  });
});

describe("README.md", () => {
  it("has the configuration table the schemas give (run `npm run config:docs` when this fails)", () => {
    const readme = readFileSync(README, "utf8");
    const table = tableInReadme(readme);
    expect(table, `README.md has no ${TABLE_START} … ${TABLE_END} block`).toBeDefined();
    expect(
      table,
      `README.md's configuration table differs from the zod schemas; regenerate it with \`${REGENERATE}\``,
    ).toBe(renderConfigTable());
  });
});
