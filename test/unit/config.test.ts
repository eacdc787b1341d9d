import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type RelayConfig, Secret } from "../../src/config.ts";
import { DojoAccounts } from "../../src/dojo/index.ts";

const API_KEY = "sk_sandbox_Zq7LongSecretValue42";
const SASL_PASSWORD = "sasl-Pa55word-Very-Secret";
const SSL_KEY = "-----BEGIN PRIVATE KEY-----\nTLSKEYMATERIAL\n-----END PRIVATE KEY-----";

const BASE = { KAFKA_BROKERS: "localhost:9092", DOJO_API_KEY: API_KEY };

/** A reader that serves only the given files and fails like fs for anything else. */
function files(contents: Record<string, string>) {
  const reads: string[] = [];
  const read = (path: string): string => {
    reads.push(path);
    const text = contents[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
    return text;
  };
  return { read, reads };
}

const noFiles = files({}).read;

function problemsOf(env: Record<string, string | undefined>, read = noFiles): readonly string[] {
  try {
    loadConfig(env, read);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

function messageOf(env: Record<string, string | undefined>, read = noFiles): string {
  try {
    loadConfig(env, read);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

const tempDir = mkdtempSync(join(tmpdir(), "refund-relay-config-"));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe("loadConfig defaults", () => {
  it("fills every setting not given from its default", () => {
    const config = loadConfig(BASE, noFiles);
    expect(config).toMatchObject({
      source: "kafka",
      logLevel: "info",
      eventSource: "urn:refund-relay",
      outcomeMode: "structured",
      idempotencyNamespace: "rr",
      maxMessageBytes: 262_144,
      ledger: { url: "sqlite:./data/refund-relay.db", synchronous: "full" },
      pipeline: {
        maxInFlight: 512,
        preflight: true,
        reverseWhenAuthorized: false,
        retry: { maxAttempts: 10, maxAgeMs: 900_000, baseDelayMs: 500, maxDelayMs: 60_000 },
      },
      shutdownTimeoutMs: 20_000,
      httpPort: 0,
    });
    expect(config.dojo).toMatchObject({
      baseUrl: "https://api.dojo.tech",
      apiVersion: "2026-02-27",
      connectTimeoutMs: 5_000,
      timeoutMs: 30_000,
      connections: 512,
    });
    expect(config.kafka).toMatchObject({
      brokers: ["localhost:9092"],
      clientId: "refund-relay",
      groupId: "refund-relay",
      inputTopic: "return.approved",
      succeededTopic: "refund.succeeded",
      failedTopic: "refund.failed",
      dlqTopic: "return.approved.dlq",
      transactional: false,
      transactionalId: `refund-relay-${hostname()}`,
      maxInFlightPerPartition: 64,
      sessionTimeoutMs: 30_000,
      fetchMaxWaitMs: 100,
      createTopics: false,
      fromBeginning: true,
      ssl: false,
    });
    expect(config.kafka?.sasl).toBeUndefined();
  });

  it("treats blank values like missing ones", () => {
    const config = loadConfig(
      { ...BASE, EVENT_SOURCE: "  ", RETRY_MAX_ATTEMPTS: "", LEDGER_URL: " " },
      noFiles,
    );
    expect(config.eventSource).toBe("urn:refund-relay");
    expect(config.pipeline.retry.maxAttempts).toBe(10);
    expect(config.ledger.url).toBe("sqlite:./data/refund-relay.db");
  });

  it("reads overrides, trimming text and parsing numbers and switches", () => {
    const config = loadConfig(
      {
        ...BASE,
        KAFKA_BROKERS: " kafka-1:9092, kafka-2:19092 ,",
        KAFKA_INPUT_TOPIC: "shop.returns",
        EVENT_SOURCE: " urn:relay:eu ",
        PREFLIGHT: "false",
        REVERSE_WHEN_AUTHORIZED: "yes",
        RETRY_MAX_ATTEMPTS: "3",
        LEDGER_URL: "sqlite::memory:",
        KAFKA_TRANSACTIONAL: "1",
        KAFKA_TRANSACTIONAL_ID: "relay-a",
      },
      noFiles,
    );
    expect(config.kafka?.brokers).toEqual(["kafka-1:9092", "kafka-2:19092"]);
    expect(config.kafka?.inputTopic).toBe("shop.returns");
    expect(config.kafka?.transactional).toBe(true);
    expect(config.kafka?.transactionalId).toBe("relay-a");
    expect(config.eventSource).toBe("urn:relay:eu");
    expect(config.pipeline.preflight).toBe(false);
    expect(config.pipeline.reverseWhenAuthorized).toBe(true);
    expect(config.pipeline.retry.maxAttempts).toBe(3);
    expect(config.ledger.url).toBe("sqlite::memory:");
  });
});

describe("loadConfig problems", () => {
  it("lists several invalid values together, each named by its variable", () => {
    const problems = problemsOf({
      ...BASE,
      MAX_IN_FLIGHT: "0",
      RETRY_MAX_ATTEMPTS: "many",
      LOG_LEVEL: "loud",
      PREFLIGHT: "maybe",
      KAFKA_DLQ_TOPIC: "bad topic!",
      DOJO_BASE_URL: "not a url",
    });
    for (const name of [
      "MAX_IN_FLIGHT",
      "RETRY_MAX_ATTEMPTS",
      "LOG_LEVEL",
      "PREFLIGHT",
      "KAFKA_DLQ_TOPIC",
      "DOJO_BASE_URL",
    ]) {
      expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    expect(problems.find((p) => p.startsWith("MAX_IN_FLIGHT:"))).toContain('got "0"');
  });

  it("lists missing and inconsistent settings together in one message", () => {
    const message = messageOf({ RETRY_BASE_DELAY_MS: "5000", RETRY_MAX_DELAY_MS: "100" });
    expect(message).toMatch(/^invalid configuration:\n/);
    expect(message).toContain("KAFKA_BROKERS: required when RELAY_SOURCE=kafka");
    expect(message).toContain("DOJO_API_KEY: no Dojo API key configured");
    expect(message).toContain("RETRY_MAX_DELAY_MS: must not be below RETRY_BASE_DELAY_MS");
    expect(message.split("\n").filter((l) => l.startsWith("  - "))).toHaveLength(3);
  });

  it("lists a bad value together with missing settings", () => {
    const message = messageOf({ MAX_IN_FLIGHT: "0", DOJO_BASE_URL: "ftp://example.com" });
    expect(message).toContain('MAX_IN_FLIGHT: must be an integer from 1 to 100000, got "0"');
    expect(message).toContain("DOJO_BASE_URL: must be an http(s) URL");
    expect(message).toContain("KAFKA_BROKERS: required when RELAY_SOURCE=kafka");
    expect(message).toContain("DOJO_API_KEY: no Dojo API key configured");
  });

  it("refuses an idempotency namespace that would make invalid Dojo keys", () => {
    expect(messageOf({ ...BASE, IDEMPOTENCY_NAMESPACE: "refund-relay-production" })).toContain(
      "IDEMPOTENCY_NAMESPACE: must be 1-20 of",
    );
    expect(loadConfig({ ...BASE, IDEMPOTENCY_NAMESPACE: "shop-eu" }, noFiles).idempotencyNamespace).toBe(
      "shop-eu",
    );
  });

  it("accepts only http and https Dojo base URLs", () => {
    for (const url of ["ftp://example.com", "file:///etc/passwd", "localhost:8080"]) {
      expect(messageOf({ ...BASE, DOJO_BASE_URL: url })).toContain("DOJO_BASE_URL: must be an http(s) URL");
    }
    expect(loadConfig({ ...BASE, DOJO_BASE_URL: "http://127.0.0.1:8099" }, noFiles).dojo.baseUrl).toBe(
      "http://127.0.0.1:8099",
    );
  });

  it("reports an API key with the wrong prefix without printing the key", () => {
    const badKey = "pk_live_Q9SuperSecretKeyBody";
    const message = messageOf({ ...BASE, DOJO_API_KEY: badKey });
    expect(message).toContain("DOJO_API_KEY");
    expect(message).toContain("sk_sandbox_ or sk_prod_");
    expect(message).not.toContain(badKey);
    expect(message).not.toContain("Q9SuperSecretKeyBody");
  });

  it("reports an API key with whitespace without printing the key", () => {
    const message = messageOf({ ...BASE, DOJO_API_KEY: "sk_prod_abc def" });
    expect(message).toContain("whitespace");
    expect(message).not.toContain("abc def");
  });

  it("requires KAFKA_BROKERS for the kafka source", () => {
    expect(problemsOf({ DOJO_API_KEY: API_KEY })).toEqual([
      "KAFKA_BROKERS: required when RELAY_SOURCE=kafka (host:port,...)",
    ]);
    expect(problemsOf({ DOJO_API_KEY: API_KEY, KAFKA_BROKERS: " , " })).toHaveLength(1);
  });

  it("checks every broker is host:port", () => {
    const problems = problemsOf({ ...BASE, KAFKA_BROKERS: "good:9092,localhost,host:port,:9092,a b:1,ok:1" });
    expect(problems).toEqual([
      'KAFKA_BROKERS: "localhost" is not host:port',
      'KAFKA_BROKERS: "host:port" is not host:port',
      'KAFKA_BROKERS: ":9092" is not host:port',
      'KAFKA_BROKERS: "a b:1" is not host:port',
    ]);
  });

  it("requires a SASL username and password with a SASL mechanism", () => {
    const problems = problemsOf({ ...BASE, KAFKA_SASL_MECHANISM: "scram-sha-512" });
    expect(problems).toEqual([
      "KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM",
      "KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM",
    ]);
    expect(problemsOf({ ...BASE, KAFKA_SASL_MECHANISM: "plain", KAFKA_SASL_USERNAME: "u" })).toEqual([
      "KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM",
    ]);
    expect(problemsOf({ ...BASE, KAFKA_SASL_MECHANISM: "gssapi" })[0]).toMatch(/^KAFKA_SASL_MECHANISM: /);
  });

  it("names every missing SQS setting for RELAY_SOURCE=sqs, and refuses an unknown source", () => {
    expect(problemsOf({ ...BASE, RELAY_SOURCE: "sqs" })).toEqual([
      "SQS_INPUT_QUEUE_URL: required when RELAY_SOURCE=sqs (a queue URL)",
      "SQS_SUCCEEDED_QUEUE_URL: required when RELAY_SOURCE=sqs (a queue URL)",
      "SQS_FAILED_QUEUE_URL: required when RELAY_SOURCE=sqs (a queue URL)",
      "SQS_DLQ_URL: required when RELAY_SOURCE=sqs (a queue URL)",
      "AWS_REGION: required when RELAY_SOURCE=sqs and the queue URL names no region",
    ]);
    expect(problemsOf({ ...BASE, RELAY_SOURCE: "rabbit" })).toEqual(["RELAY_SOURCE: must be kafka or sqs"]);
  });

  it("names the variable and path of an unreadable TLS file", () => {
    const problems = problemsOf({ ...BASE, KAFKA_SSL: "true", KAFKA_SSL_CA_FILE: "/nope/ca.pem" });
    expect(problems).toEqual(["KAFKA_SSL_CA_FILE: cannot read /nope/ca.pem (ENOENT)"]);
  });
});

describe("loadConfig secrets", () => {
  it("reads DOJO_API_KEY_FILE and trims the key", () => {
    const path = join(tempDir, "dojo-key");
    writeFileSync(path, `  ${API_KEY}\n`);
    const { read, reads } = files({ [path]: `  ${API_KEY}\n` });
    const config = loadConfig({ KAFKA_BROKERS: "localhost:9092", DOJO_API_KEY_FILE: path }, read);
    expect(config.dojo.accounts.resolve()?.authorization()).toBe(`Basic ${API_KEY}`);
    // The key file goes through the reader given to loadConfig, like every other file.
    expect(reads).toContain(path);
  });

  it("reports an unreadable DOJO_API_KEY_FILE by path", () => {
    const message = messageOf({
      KAFKA_BROKERS: "localhost:9092",
      DOJO_API_KEY_FILE: join(tempDir, "missing"),
    });
    expect(message).toContain(`DOJO_API_KEY_FILE: cannot read ${join(tempDir, "missing")} (ENOENT)`);
    // The unreadable file is the one problem: no second "no key configured" line.
    expect(message.split("\n").filter((l) => l.startsWith("  - "))).toHaveLength(1);
  });

  it("refuses both DOJO_API_KEY and DOJO_API_KEY_FILE", () => {
    expect(messageOf({ ...BASE, DOJO_API_KEY_FILE: join(tempDir, "dojo-key") })).toContain("not both");
  });

  it("reads TLS files through the given reader and keeps the private key as a Secret", () => {
    const { read, reads } = files({ "/tls/ca.pem": "CA", "/tls/cert.pem": "CERT", "/tls/key.pem": SSL_KEY });
    const config = loadConfig(
      {
        ...BASE,
        KAFKA_SSL: "true",
        KAFKA_SSL_CA_FILE: "/tls/ca.pem",
        KAFKA_SSL_CERT_FILE: "/tls/cert.pem",
        KAFKA_SSL_KEY_FILE: "/tls/key.pem",
        KAFKA_SSL_REJECT_UNAUTHORIZED: "false",
      },
      read,
    );
    expect(reads).toEqual(["/tls/ca.pem", "/tls/cert.pem", "/tls/key.pem"]);
    const ssl = config.kafka?.ssl;
    if (ssl === false || ssl === undefined) throw new Error("expected TLS settings");
    expect(ssl).toMatchObject({ ca: "CA", cert: "CERT", rejectUnauthorized: false });
    expect(ssl.key).toBeInstanceOf(Secret);
    expect(ssl.key?.reveal()).toBe(SSL_KEY);
  });

  function fullConfig(): RelayConfig {
    return loadConfig(
      {
        ...BASE,
        KAFKA_SASL_MECHANISM: "scram-sha-256",
        KAFKA_SASL_USERNAME: "relay",
        KAFKA_SASL_PASSWORD: SASL_PASSWORD,
        KAFKA_SSL: "true",
        KAFKA_SSL_KEY_FILE: "/tls/key.pem",
      },
      files({ "/tls/key.pem": SSL_KEY }).read,
    );
  }

  it("keeps the SASL password as a Secret that reveals it only on request", () => {
    const sasl = fullConfig().kafka?.sasl;
    expect(sasl?.mechanism).toBe("scram-sha-256");
    expect(sasl?.username).toBe("relay");
    expect(sasl?.password).toBeInstanceOf(Secret);
    expect(sasl?.password.reveal()).toBe(SASL_PASSWORD);
    expect(String(sasl?.password)).toBe("[redacted]");
  });

  it("never shows the API key, SASL password or TLS key through JSON.stringify or util.inspect", () => {
    const config = fullConfig();
    expect(config.dojo.accounts).toBeInstanceOf(DojoAccounts);
    const renderings = [
      JSON.stringify(config),
      JSON.stringify(config, null, 2),
      inspect(config, { depth: Number.POSITIVE_INFINITY }),
      inspect(config, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
      `${JSON.stringify(config.kafka)} ${inspect(config.dojo)}`,
    ];
    for (const text of renderings) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain("Zq7LongSecretValue42");
      expect(text).not.toContain(SASL_PASSWORD);
      expect(text).not.toContain("TLSKEYMATERIAL");
    }
    // What is shown instead: a key fingerprint and redaction markers.
    expect(renderings[0]).toMatch(/"default":"key_[0-9a-f]{12}"/);
    expect(renderings[0]).toContain('"password":"[redacted]"');
    expect(renderings[2]).toContain("Secret([redacted])");
  });

  it("returns a deeply frozen object", () => {
    const config = fullConfig();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.kafka)).toBe(true);
    expect(Object.isFrozen(config.kafka?.brokers)).toBe(true);
    expect(Object.isFrozen(config.kafka?.sasl)).toBe(true);
    expect(Object.isFrozen(config.dojo)).toBe(true);
    expect(Object.isFrozen(config.pipeline.retry)).toBe(true);
    expect(Object.isFrozen(config.ledger)).toBe(true);
    expect(() => {
      (config.pipeline.retry as { maxAttempts: number }).maxAttempts = 1_000;
    }).toThrow(TypeError);
    const brokers = config.kafka?.brokers ?? [];
    expect(() => {
      (brokers as string[]).push("evil:9092");
    }).toThrow(TypeError);
    expect(config.pipeline.retry.maxAttempts).toBe(10);
  });
});
