import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { startCommand } from "../../../src/cli/start.ts";
import { ConfigError, loadConfig } from "../../../src/config.ts";

const BASE = { KAFKA_BROKERS: "localhost:9092", DOJO_API_KEY: "sk_sandbox_Zq7LongSecretValue42" };
const noFiles = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
};

describe("operations endpoint settings", () => {
  it("are off by default, on all interfaces when on, with a two-minute stall window", () => {
    expect(loadConfig(BASE, noFiles)).toMatchObject({
      httpPort: 0,
      httpHost: "0.0.0.0",
      readyStallMs: 120_000,
    });
  });

  it("are read from HTTP_PORT, HTTP_HOST and READY_STALL_MS", () => {
    const config = loadConfig(
      { ...BASE, HTTP_PORT: "9464", HTTP_HOST: "127.0.0.1", READY_STALL_MS: "30000" },
      noFiles,
    );
    expect(config).toMatchObject({ httpPort: 9464, httpHost: "127.0.0.1", readyStallMs: 30_000 });
  });

  it("refuses a port or stall window out of range, naming the variable", () => {
    let problems: readonly string[] = [];
    try {
      loadConfig({ ...BASE, HTTP_PORT: "70000", READY_STALL_MS: "5" }, noFiles);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^HTTP_PORT: /),
        expect.stringMatching(/^READY_STALL_MS: /),
      ]),
    );
  });
});

describe("refund-relay start --help", () => {
  it("documents HTTP_PORT and the three endpoints", async () => {
    const stdout = new PassThrough();
    let text = "";
    stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const code = await startCommand.run(["--help"], {
      stdin: new PassThrough(),
      stdout,
      stderr: new PassThrough(),
    });
    expect(code).toBe(0);
    for (const word of [
      "HTTP_PORT",
      "HTTP_HOST",
      "READY_STALL_MS",
      "/healthz",
      "/readyz",
      "/metrics",
      "traceparent",
    ]) {
      expect(text).toContain(word);
    }
  });
});
