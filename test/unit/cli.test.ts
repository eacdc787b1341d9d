import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr }, text };
}

describe("refund-relay command", () => {
  it("prints usage and exits 2 when no command is given", async () => {
    const { io, text } = capture();
    expect(await main([], io)).toBe(2);
    expect(text.err).toContain("usage: refund-relay <command>");
  });

  it("prints usage on --help and exits 0", async () => {
    const { io, text } = capture();
    expect(await main(["--help"], io)).toBe(0);
    expect(text.out).toContain("validate");
  });

  it("rejects an unknown command with exit 2, naming it", async () => {
    const { io, text } = capture();
    expect(await main(["refund-everything"], io)).toBe(2);
    expect(text.err).toContain('unknown command "refund-everything"');
  });
});
