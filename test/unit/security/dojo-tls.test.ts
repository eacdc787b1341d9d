// TLS to Dojo: an http:// DOJO_BASE_URL is refused at configuration time, naming the variable, unless
// its host is loopback (127.0.0.0/8, ::1, localhost) or DOJO_ALLOW_INSECURE_HTTP=true. The simulators
// the tests start listen on loopback, so none of them needs the flag.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, isLoopbackHost, loadConfig } from "../../../src/config.ts";
import { startDojoSimulator } from "../../../src/sim/index.ts";

const BASE = { KAFKA_BROKERS: "localhost:9092", DOJO_API_KEY: "sk_sandbox_tls_tests" };
const noFiles = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
};

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ ...BASE, ...env }, { readFile: noFiles, onWarning: () => {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

const baseUrlOf = (env: Record<string, string>) =>
  loadConfig({ ...BASE, ...env }, { readFile: noFiles, onWarning: () => {} }).dojo.baseUrl;

describe("DOJO_BASE_URL over plain HTTP", () => {
  it("accepts https anywhere, the default included", () => {
    expect(baseUrlOf({})).toBe("https://api.dojo.tech");
    expect(baseUrlOf({ DOJO_BASE_URL: "https://dojo.internal.example:8443/v1" })).toBe(
      "https://dojo.internal.example:8443/v1",
    );
  });

  it.each([
    "http://127.0.0.1:8090",
    "http://127.1.2.3:8090",
    "http://127.255.255.254",
    "http://localhost:8090",
    "http://LOCALHOST:8090/",
    "http://[::1]:8090",
    "http://[0:0:0:0:0:0:0:1]:8090",
  ])("accepts a loopback host: %s", (url) => {
    expect(problemsOf({ DOJO_BASE_URL: url })).toEqual([]);
  });

  it.each([
    "http://dojo-sim:8090",
    "http://api.dojo.tech",
    "http://10.0.0.5:8090",
    "http://0.0.0.0:8090",
    "http://128.0.0.1",
    "http://localhost.evil.example",
    "http://127.0.0.1.nip.io",
    "http://[::ffff:127.0.0.1]:8090",
    "http://[::2]",
  ])("refuses another host, naming DOJO_BASE_URL and the way out: %s", (url) => {
    const problems = problemsOf({ DOJO_BASE_URL: url });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^DOJO_BASE_URL: http:\/\/ to \S+ is refused: /);
    expect(problems[0]).toContain("use https://");
    expect(problems[0]).toContain("DOJO_ALLOW_INSECURE_HTTP=true");
  });

  it("names the host, never credentials a URL may carry", () => {
    const [problem] = problemsOf({ DOJO_BASE_URL: "http://user:s3cr3t-pass@dojo.example.com/" });
    expect(problem).toContain("dojo.example.com");
    expect(problem).not.toContain("s3cr3t");
  });

  it("accepts any host with DOJO_ALLOW_INSECURE_HTTP=true, and only with true", () => {
    expect(baseUrlOf({ DOJO_BASE_URL: "http://dojo-sim:8090", DOJO_ALLOW_INSECURE_HTTP: "true" })).toBe(
      "http://dojo-sim:8090",
    );
    expect(
      problemsOf({ DOJO_BASE_URL: "http://dojo-sim:8090", DOJO_ALLOW_INSECURE_HTTP: "false" })[0],
    ).toMatch(/^DOJO_BASE_URL: /);
    expect(problemsOf({ DOJO_BASE_URL: "http://dojo-sim:8090", DOJO_ALLOW_INSECURE_HTTP: "maybe" })).toEqual([
      "DOJO_ALLOW_INSECURE_HTTP: must be true or false",
      expect.stringMatching(/^DOJO_BASE_URL: http:\/\/ to dojo-sim is refused/),
    ]);
  });

  it("stops the relay with the problem listed like every other", () => {
    expect(() => loadConfig({ ...BASE, DOJO_BASE_URL: "http://dojo.example.com" }, noFiles)).toThrow(
      /invalid configuration:\n {2}- DOJO_BASE_URL: http:\/\/ to dojo\.example\.com is refused/,
    );
  });

  it("tells loopback hosts as WHATWG URL writes them", () => {
    for (const host of ["localhost", "127.0.0.1", "127.9.8.7", "[::1]"])
      expect(isLoopbackHost(host)).toBe(true);
    for (const host of ["localhost.", "127.0.0.1.example", "::1", "[::ffff:7f00:1]", "0.0.0.0"]) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });
});

describe("the test harnesses' simulators", () => {
  it("listen on loopback, so their URLs need no DOJO_ALLOW_INSECURE_HTTP", async () => {
    const sim = await startDojoSimulator({ apiKeys: [BASE.DOJO_API_KEY] });
    try {
      expect(isLoopbackHost(new URL(sim.url).hostname)).toBe(true);
      expect(baseUrlOf({ DOJO_BASE_URL: sim.url })).toBe(sim.url);
    } finally {
      await sim.close();
    }
  });

  it("are started without another host in test/support", () => {
    const dir = new URL("../../support/", import.meta.url);
    const sources = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(sources.length).toBeGreaterThan(3);
    for (const file of sources) {
      const text = readFileSync(new URL(file, dir), "utf8");
      // Every simulator takes the default host (127.0.0.1) and every relay's DOJO_BASE_URL is its URL.
      expect(text, file).not.toMatch(/startDojoSimulator\(\{[^}]*\bhost\s*:/);
      for (const m of text.matchAll(/DOJO_BASE_URL:\s*([^,\n]+)/g)) expect(m[1], file).toMatch(/sim\.url$/);
      expect(text, file).not.toContain("DOJO_ALLOW_INSECURE_HTTP");
    }
  });
});
