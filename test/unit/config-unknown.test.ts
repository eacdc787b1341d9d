import { describe, expect, it } from "vitest";
import { ConfigError, KNOWN_VARIABLES, loadConfig, loadLedgerConfig } from "../../src/config.ts";
import {
  describeUnknown,
  editDistance,
  FOREIGN_VARIABLES,
  isServiceLink,
  OWNED_PREFIXES,
  suggestNames,
  unknownInEnvironment,
} from "../../src/config-unknown.ts";

const BASE = { KAFKA_BROKERS: "localhost:9092", DOJO_API_KEY: "sk_sandbox_Zq7LongSecretValue42" };
const noFiles = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
};

function failure(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env, { readFile: noFiles, onWarning: () => {} });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

describe("editDistance", () => {
  it("counts insertions, deletions, substitutions and swapped neighbours", () => {
    expect(editDistance("DOJO_API_KEY", "DOJO_API_KEY")).toBe(0);
    expect(editDistance("DOJO_API_KY", "DOJO_API_KEY")).toBe(1);
    expect(editDistance("DOJO_API_KEYS", "DOJO_API_KEY")).toBe(1);
    expect(editDistance("DOJO_API_KEI", "DOJO_API_KEY")).toBe(1);
    expect(editDistance("DOJO_AIP_KEY", "DOJO_API_KEY")).toBe(1);
    expect(editDistance("", "ABC")).toBe(3);
    expect(editDistance("KITTEN", "SITTING")).toBe(3);
  });
});

describe("suggestNames", () => {
  it.each([
    ["DOJO_API_KY", "DOJO_API_KEY"],
    ["DOJO_TIMEOUT_MX", "DOJO_TIMEOUT_MS"],
    ["DOJO_TIMEOUT", "DOJO_TIMEOUT_MS"],
    ["DOJO_TIMEOUT_SECONDS", "DOJO_TIMEOUT_MS"],
    ["LEDGER_ULR", "LEDGER_URL"],
    ["KAFKA_BROKER", "KAFKA_BROKERS"],
    ["KAFKA_TRANSACTINAL", "KAFKA_TRANSACTIONAL"],
    ["SQS_INPUT_QUEUE", "SQS_INPUT_QUEUE_URL"],
    ["RELAY_CONFIG", "RELAY_CONFIG_FILE"],
    ["dojo_api_key", "DOJO_API_KEY"],
  ])("suggests %s → %s", (typo, name) => {
    expect(suggestNames(typo, KNOWN_VARIABLES)).toEqual([name]);
  });

  it("suggests nothing for a name that resembles no setting", () => {
    expect(suggestNames("KAFKA_SOMETHING_ELSE_ENTIRELY", KNOWN_VARIABLES)).toEqual([]);
    expect(describeUnknown("KAFKA_SOMETHING_ELSE_ENTIRELY", KNOWN_VARIABLES)).toBe(
      "KAFKA_SOMETHING_ELSE_ENTIRELY is not a refund-relay setting",
    );
  });

  it("names every equally close setting, at most three", () => {
    expect(suggestNames("AB", ["AC", "XB", "AD", "AE"])).toEqual(["AC", "XB", "AD"]);
  });

  it("words the report as the README shows it", () => {
    expect(describeUnknown("DOJO_API_KY", KNOWN_VARIABLES)).toBe(
      "DOJO_API_KY is not a refund-relay setting (did you mean DOJO_API_KEY?)",
    );
  });
});

describe("unknownInEnvironment", () => {
  it("reports names with the relay's prefixes that no schema knows, in any case", () => {
    const env = {
      DOJO_API_KY: "x",
      relay_source: "sqs",
      LEDGER_ULR: "postgres://db/x",
      SQS_ENDPONT: "http://localhost",
      RELAY_SOURC: "kafka",
      DOJO_API_KEY: "known",
      HTTP_PROXY: "http://proxy:3128",
      HTTP_PORTT: "8080",
      PATH: "/usr/bin",
      MAX_IN_FLIGT: "5",
      AWS_PROFILE: "prod",
    };
    expect(unknownInEnvironment(env, KNOWN_VARIABLES)).toEqual([
      "DOJO_API_KY",
      "relay_source",
      "LEDGER_ULR",
      "SQS_ENDPONT",
      "RELAY_SOURC",
    ]);
  });

  it("leaves the tools' variables and Kubernetes service links alone", () => {
    const env = {
      KAFKA_PORT: "9092",
      KAFKA_HEAP: "-Xmx1g",
      SQS_PORT: "9324",
      RELAY_TEST_LOGS: "1",
      RELAY_HOST_PORT: "18080",
      DOJO_SIM_HOST_PORT: "18090",
      KAFKA_SERVICE_HOST: "10.0.0.7",
      KAFKA_SERVICE_PORT: "9092",
      KAFKA_SERVICE_PORT_PLAINTEXT: "9092",
      KAFKA_PORT_9092_TCP: "tcp://10.0.0.7:9092",
      KAFKA_PORT_9092_TCP_ADDR: "10.0.0.7",
      KAFKA_PORT_9092_TCP_PORT: "9092",
      KAFKA_PORT_9092_TCP_PROTO: "tcp",
      DOJO_SIM_PORT: "tcp://10.0.0.9:8090",
      LEDGER_SERVICE_HOST: "10.0.0.8",
    };
    expect(unknownInEnvironment(env, KNOWN_VARIABLES)).toEqual([]);
  });

  it("reports a NAME_PORT that is not a service link", () => {
    expect(isServiceLink("DOJO_SIM_PORT", "8090")).toBe(false);
    expect(unknownInEnvironment({ DOJO_SIM_PORT: "8090" }, KNOWN_VARIABLES)).toEqual(["DOJO_SIM_PORT"]);
  });

  it("never takes a setting for a tool's variable or a service link", () => {
    for (const name of KNOWN_VARIABLES) {
      expect(FOREIGN_VARIABLES.has(name), name).toBe(false);
      // Known names are never checked against the patterns; still, none looks like a service link.
      expect(isServiceLink(name, "8080"), name).toBe(false);
    }
    for (const name of FOREIGN_VARIABLES) {
      expect(
        OWNED_PREFIXES.some((p) => name.startsWith(p)),
        name,
      ).toBe(true);
    }
  });
});

describe("loadConfig with unknown variables", () => {
  it("refuses to start, naming each with its closest setting and saying how to go on", () => {
    const error = failure({ ...BASE, DOJO_TIMEOUT_MX: "5000", LEDGER_ULR: "postgres://db/x" });
    expect(error.problems).toEqual([
      "DOJO_TIMEOUT_MX is not a refund-relay setting (did you mean DOJO_TIMEOUT_MS?)",
      "LEDGER_ULR is not a refund-relay setting (did you mean LEDGER_URL?)",
    ]);
    expect(error.message).toContain("RELAY_ALLOW_UNKNOWN_ENV=true");
    expect(error.message).toMatch(/^invalid configuration:\n {2}- DOJO_TIMEOUT_MX/);
  });

  it("lists them with the other problems", () => {
    const error = failure({ DOJO_API_KY: BASE.DOJO_API_KEY, KAFKA_BROKERS: "localhost:9092" });
    expect(error.problems).toContain(
      "DOJO_API_KY is not a refund-relay setting (did you mean DOJO_API_KEY?)",
    );
    expect(error.problems.some((p) => p.startsWith("DOJO_API_KEY: no Dojo API key configured"))).toBe(true);
  });

  it("only warns with RELAY_ALLOW_UNKNOWN_ENV=true, and the settings take effect", () => {
    const warnings: string[] = [];
    const config = loadConfig(
      { ...BASE, RELAY_ALLOW_UNKNOWN_ENV: "true", DOJO_TIMEOUT_MX: "5000", DOJO_TIMEOUT_MS: "7000" },
      { readFile: noFiles, onWarning: (w) => warnings.push(w) },
    );
    expect(config.dojo.timeoutMs).toBe(7000);
    expect(warnings).toEqual([
      "DOJO_TIMEOUT_MX is not a refund-relay setting (did you mean DOJO_TIMEOUT_MS?); ignored (RELAY_ALLOW_UNKNOWN_ENV=true)",
    ]);
  });

  it("refuses a misspelt RELAY_ALLOW_UNKNOWN_ENV too, and a bad value of it", () => {
    expect(failure({ ...BASE, RELAY_ALLOW_UNKNOWN_EVN: "true" }).problems).toEqual([
      "RELAY_ALLOW_UNKNOWN_EVN is not a refund-relay setting (did you mean RELAY_ALLOW_UNKNOWN_ENV?)",
    ]);
    const error = failure({ ...BASE, RELAY_ALLOW_UNKNOWN_ENV: "sure", DOJO_API_KY: "x" });
    expect(error.problems).toContain("RELAY_ALLOW_UNKNOWN_ENV: must be true or false");
    expect(error.problems).toContain(
      "DOJO_API_KY is not a refund-relay setting (did you mean DOJO_API_KEY?)",
    );
  });

  it("accepts what the harnesses, scripts and orchestrators put into a relay's environment", () => {
    const warnings: string[] = [];
    const env = {
      ...BASE,
      RELAY_SOURCE: "kafka",
      RELAY_TEST_LOGS: "1",
      KAFKA_PORT: "9092",
      KAFKA_CONTROLLER_PORT: "9093",
      KAFKA_HEAP: "-Xms256m -Xmx768m",
      SQS_PORT: "9324",
      SQS_HEAP: "-Xmx256m",
      KAFKA_HOST_PORT: "19092",
      SQS_ENDPOINT: "http://127.0.0.1:9324",
      KAFKA_SERVICE_HOST: "10.0.0.7",
      HTTP_PROXY: "http://proxy:3128",
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
      REFUND_RELAY_TEST_SERVERS: "local",
      PATH: "/usr/bin",
    };
    expect(loadConfig(env, { readFile: noFiles, onWarning: (w) => warnings.push(w) }).source).toBe("kafka");
    expect(warnings).toEqual([]);
  });

  it("knows the other transport's settings: they are unused, not unknown", () => {
    const config = loadConfig({ ...BASE, SQS_WAIT_TIME_S: "5", SQS_INPUT_QUEUE_URL: "x" }, noFiles);
    expect(config.source).toBe("kafka");
  });

  it("applies to the ledger's commands as well", () => {
    expect(() => loadLedgerConfig({ LEDGER_URI: "postgres://db/x" }, { onWarning: () => {} })).toThrow(
      /LEDGER_URI is not a refund-relay setting \(did you mean LEDGER_URL\?\)/,
    );
  });

  it("writes warnings to standard error when no one takes them", () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      written.push(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      loadConfig({ ...BASE, RELAY_ALLOW_UNKNOWN_ENV: "yes", KAFKA_BROKER: "x" }, noFiles);
    } finally {
      process.stderr.write = write;
    }
    expect(written).toEqual([
      "refund-relay: warning: KAFKA_BROKER is not a refund-relay setting (did you mean KAFKA_BROKERS?); ignored (RELAY_ALLOW_UNKNOWN_ENV=true)\n",
    ]);
  });
});
