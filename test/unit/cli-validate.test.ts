import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { validEvent } from "./schemas/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "refund-relay-validate-"));
const example = readFileSync(
  new URL("../../schemas/generated/examples/return.approved.v1.json", import.meta.url),
  "utf8",
);

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function run(args: string[], stdin?: string) {
  const input = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  input.end(stdin ?? "");
  const code = await main(["validate", ...args], { stdin: input, stdout, stderr });
  return { code, ...text };
}

function invalidEvent(): string {
  const e = validEvent();
  e.data.amount = { value: 12.5, currencyCode: "GBP" };
  e.data.paymentIntentId = "../pi";
  return JSON.stringify(e);
}

describe("refund-relay validate", () => {
  it("exits 0 for a valid event file", async () => {
    const result = await run([file("ok.json", example)]);
    expect(result.code).toBe(0);
    expect(result.out).toContain("ok (return.approved id=5f0c7c55-3b1e-4a53-9f2b-2d1f1a4c9e10");
  });

  it("exits 1 and prints each problem with its field path", async () => {
    const result = await run([file("bad.json", invalidEvent())]);
    expect(result.code).toBe(1);
    expect(result.out).toContain("invalid data, 2 problems");
    expect(result.out).toContain("  data.paymentIntentId: must be 1-100 characters");
    expect(result.out).toContain("  data.amount.value: must be an integer number of minor units");
  });

  it("reads JSON lines and reports problems by line number", async () => {
    const lines = [JSON.stringify(validEvent()), "", invalidEvent(), "{not json"].join("\n");
    const result = await run([file("events.jsonl", `${lines}\n`)]);
    expect(result.code).toBe(1);
    expect(result.out).toContain("line 1: ok");
    expect(result.out).toContain("line 3: invalid data");
    expect(result.out).toContain("line 4: invalid unparseable");
    expect(result.out).toContain("3 events: 1 valid, 2 invalid");
  });

  it("exits 0 when every line is valid, with Windows line endings too", async () => {
    const one = JSON.stringify(validEvent());
    const result = await run([file("crlf.jsonl", `${one}\r\n${one}\r\n`)]);
    expect(result.code).toBe(0);
    expect(result.out).toContain("2 events: 2 valid, 0 invalid");
  });

  it("reports a malformed pretty-printed document once, not line by line", async () => {
    const result = await run([file("broken.json", '{\n  "specversion": "1.0",\n')]);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(
      /broken\.json: invalid unparseable, 1 problem\n {2}\(message\): body is not valid JSON/,
    );
  });

  it("reads standard input for - and when no file is given", async () => {
    expect((await run(["-"], example)).code).toBe(0);
    const result = await run([], invalidEvent());
    expect(result.code).toBe(1);
    expect(result.out).toContain("stdin: invalid data");
  });

  it("accepts an SNS notification wrapping an event", async () => {
    const sns = readFileSync(
      new URL("../../schemas/generated/examples/return.approved.v1.sns.json", import.meta.url),
    );
    expect((await run(["-"], sns.toString())).code).toBe(0);
  });

  it("applies --max-bytes", async () => {
    const result = await run(["--max-bytes", "100", "-"], example);
    expect(result.code).toBe(1);
    expect(result.out).toContain("the limit is 100");
    expect((await run(["--max-bytes=1000000", "-"], example)).code).toBe(0);
  });

  it("exits 1 when the input holds no event", async () => {
    const result = await run(["-"], "\n  \n");
    expect(result.code).toBe(1);
    expect(result.out).toContain("no event in input");
  });

  it("prints usage on --help and exits 0", async () => {
    const result = await run(["--help"]);
    expect(result.code).toBe(0);
    expect(result.out).toContain("usage: refund-relay validate");
  });

  it.each([
    [["--strict"], 'unknown option "--strict"'],
    [["a.json", "b.json"], "give at most one file"],
    [["--max-bytes", "0"], "--max-bytes needs a positive integer"],
    [["--max-bytes"], "--max-bytes needs a positive integer"],
  ])("exits 2 on usage error %j", async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
    expect(result.err).toContain("usage: refund-relay validate");
  });

  it("exits 2 when the file cannot be read", async () => {
    const result = await run([join(dir, "missing.json")]);
    expect(result.code).toBe(2);
    expect(result.err).toContain("cannot read");
  });
});
