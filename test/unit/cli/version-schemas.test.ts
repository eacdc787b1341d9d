import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";

const packageVersion = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
const generatedDir = new URL("../../../schemas/generated/", import.meta.url).pathname;

async function run(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  const code = await main(args, { stdin: new PassThrough(), stdout, stderr });
  return { code, ...text };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

describe("refund-relay --version", () => {
  for (const args of [["--version"], ["-V"], ["version"]]) {
    it(`${args[0]} prints the package version and Node's, exit 0`, async () => {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.out).toBe(`refund-relay ${packageVersion} (Node.js ${process.version})\n`);
    });
  }

  it("rejects an argument with exit 2", async () => {
    const result = await run(["version", "--bogus"]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('unexpected argument "--bogus"');
  });

  it("is in the usage text with the new commands and the exit codes", async () => {
    const result = await run(["--help"]);
    expect(result.code).toBe(0);
    for (const command of [
      "send [file|-]",
      "tail [succeeded|failed|dlq|all]",
      "schemas [--out DIR]",
      "version",
    ])
      expect(result.out).toContain(command);
    expect(result.out).toContain("exit status: 0 ok, 1 failure, 2 usage or configuration error, 3 ");
  });
});

describe("refund-relay schemas", () => {
  it("--out writes the files npm run schemas generates, byte for byte", async () => {
    const out = mkdtempSync(join(tmpdir(), "refund-relay-schemas-"));
    writeFileSync(join(out, "keep.txt"), "not ours");
    const result = await run(["schemas", "--out", out]);
    expect(result.code).toBe(0);
    const expected = filesUnder(generatedDir);
    expect(expected.length).toBeGreaterThan(5);
    expect(result.out).toBe(`wrote ${expected.length} files to ${out}\n`);
    expect(filesUnder(out)).toEqual([...expected, "keep.txt"].sort());
    for (const file of expected)
      expect(readFileSync(join(out, file), "utf8"), file).toBe(
        readFileSync(join(generatedDir, file), "utf8"),
      );
  });

  it("--format json --out writes only the JSON Schemas", async () => {
    const out = mkdtempSync(join(tmpdir(), "refund-relay-schemas-"));
    expect((await run(["schemas", "--format", "json", "--out", out])).code).toBe(0);
    const files = filesUnder(out);
    expect(files).toEqual(filesUnder(generatedDir).filter((f) => f.startsWith("json-schema/")));
    expect(files).toContain("json-schema/return.approved.v1.accept.schema.json");
  });

  it("--format asyncapi prints the AsyncAPI document as generated", async () => {
    const result = await run(["schemas", "--format", "asyncapi"]);
    expect(result.code).toBe(0);
    expect(result.out).toBe(readFileSync(join(generatedDir, "asyncapi.json"), "utf8"));
  });

  it("prints every contract as one JSON object keyed by path", async () => {
    const result = await run(["schemas"]);
    expect(result.code).toBe(0);
    const all = JSON.parse(result.out) as Record<string, unknown>;
    expect(Object.keys(all).sort()).toEqual(filesUnder(generatedDir));
    expect(all["examples/return.approved.v1.json"]).toEqual(
      JSON.parse(readFileSync(join(generatedDir, "examples/return.approved.v1.json"), "utf8")),
    );
  });

  it("exits 2 on an unknown format or option, 1 when the directory cannot be written", async () => {
    const format = await run(["schemas", "--format", "yaml"]);
    expect(format.code).toBe(2);
    expect(format.err).toContain('--format must be json or asyncapi, got "yaml"');
    const option = await run(["schemas", "--outdir", "x"]);
    expect(option.code).toBe(2);
    expect(option.err).toContain("--outdir");
    const file = join(mkdtempSync(join(tmpdir(), "refund-relay-schemas-")), "a-file");
    writeFileSync(file, "");
    const unwritable = await run(["schemas", "--out", file]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.err).toContain(`cannot write to ${file}`);
  });

  it("--help lists the options and exit codes", async () => {
    const result = await run(["schemas", "--help"]);
    expect(result.code).toBe(0);
    expect(result.out).toContain("--format json");
    expect(result.out).toContain("--out DIR");
    expect(result.out).toContain("exit status: 0 printed or written, 1 ");
  });
});
