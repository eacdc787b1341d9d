// kafkajs' connection failures collapsed into one warning per broker and cause, without stack traces
// at warn level; each attempt kept whole at debug. Also against a real socket: a kafkajs admin
// connecting to a port nothing listens on.
import { createServer } from "node:net";
import { logLevel } from "kafkajs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ConnectionFailures,
  connectionFailure,
  createKafka,
  kafkaLogCreator,
} from "../../../consumers/kafka/client.ts";
import type { KafkaSettings } from "../../../src/config.ts";
import { createLogger } from "../../../src/logger.ts";

function recording() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { logger: createLogger({ level: "debug", destination }), lines };
}

const warnings = (lines: Array<Record<string, unknown>>) => lines.filter((l) => (l.level as number) >= 40);

/** What kafkajs hands the log creator for one failed connection attempt, and for its retry. */
function attempt(broker = "127.0.0.1:9092", code = "ECONNREFUSED") {
  return [
    {
      namespace: "Connection",
      level: logLevel.ERROR,
      label: "ERROR",
      log: {
        timestamp: "2026-11-26T10:00:00.000Z",
        logger: "kafkajs",
        message: `Connection error: connect ${code} ${broker}`,
        broker,
        clientId: "refund-relay",
        stack: `Error: connect ${code} ${broker}\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1:1)`,
      },
    },
    {
      namespace: "BrokerPool",
      level: logLevel.ERROR,
      label: "ERROR",
      log: {
        timestamp: "2026-11-26T10:00:00.000Z",
        logger: "kafkajs",
        message: `Failed to connect to seed broker, trying another broker from the list: Connection error: connect ${code} ${broker}`,
        retryCount: 0,
        retryTime: 300,
      },
    },
  ];
}

describe("connectionFailure", () => {
  it("reads broker and cause from kafkajs' Connection lines only", () => {
    expect(
      connectionFailure("Connection", "Connection error: connect ECONNREFUSED 127.0.0.1:9092", {
        broker: "127.0.0.1:9092",
      }),
    ).toEqual({ broker: "127.0.0.1:9092", cause: "ECONNREFUSED" });
    expect(
      connectionFailure("Connection", "Connection error: getaddrinfo ENOTFOUND kafka-0", {
        broker: "kafka-0:9092",
      }),
    ).toEqual({ broker: "kafka-0:9092", cause: "ENOTFOUND" });
    expect(connectionFailure("Connection", "Connection timeout", { broker: "b:1" })).toEqual({
      broker: "b:1",
      cause: "connection timeout",
    });
    expect(
      connectionFailure(
        "Connection",
        "Connection error: Client network socket disconnected before secure TLS connection was established",
        { broker: "b:1" },
      ),
    ).toEqual({
      broker: "b:1",
      cause: "Client network socket disconnected before secure TLS connection was established",
    });
    expect(connectionFailure("BrokerPool", "Connection error: connect ECONNREFUSED b:1", {})).toBeUndefined();
    expect(connectionFailure("Connection", "Response without match", { broker: "b:1" })).toBeUndefined();
  });
});

describe("kafkaLogCreator with ConnectionFailures", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse("2026-11-26T10:00:00Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("turns twelve failed attempts in 8 s into one warning, written when connect() is over", () => {
    const { logger, lines } = recording();
    const failures = new ConnectionFailures(logger.child({ component: "kafkajs" }));
    const log = kafkaLogCreator(logger, failures)(logLevel.WARN);
    for (let i = 0; i < 12; i++) {
      if (i > 0) vi.advanceTimersByTime(8_000 / 11);
      for (const entry of attempt()) log(entry);
    }
    expect(warnings(lines)).toEqual([]);
    failures.flush();
    expect(warnings(lines)).toEqual([
      expect.objectContaining({
        level: 40,
        component: "kafkajs",
        msg: "cannot reach broker 127.0.0.1:9092: ECONNREFUSED (12 attempts in 8 s)",
        broker: "127.0.0.1:9092",
        cause: "ECONNREFUSED",
        attempts: 12,
      }),
    ]);
    expect(JSON.stringify(warnings(lines))).not.toContain("TCPConnectWrap");
    // Every attempt (and its retry notice) is kept at debug, the stack included.
    const debug = lines.filter((l) => l.level === 20);
    expect(debug).toHaveLength(24);
    expect(debug.filter((l) => String(l.stack).includes("TCPConnectWrap"))).toHaveLength(12);
    // Nothing more once reported.
    failures.flush();
    vi.advanceTimersByTime(120_000);
    expect(warnings(lines)).toHaveLength(1);
  });

  it("reports each broker and cause on its own line", () => {
    const { logger, lines } = recording();
    const failures = new ConnectionFailures(logger.child({ component: "kafkajs" }));
    const log = kafkaLogCreator(logger, failures)(logLevel.WARN);
    for (const entry of [
      ...attempt("a:9092"),
      ...attempt("b:9092"),
      ...attempt("a:9092"),
      ...attempt("a:9092", "ETIMEDOUT"),
    ])
      log(entry);
    failures.flush();
    expect(warnings(lines).map((l) => l.msg)).toEqual([
      "cannot reach broker a:9092: ECONNREFUSED (2 attempts in 0 s)",
      "cannot reach broker b:9092: ECONNREFUSED (1 attempt)",
      "cannot reach broker a:9092: ETIMEDOUT (1 attempt)",
    ]);
  });

  it("reports by itself once the failures stop (5 s later), and while they go on (after 15 s, then every minute)", () => {
    const { logger, lines } = recording();
    const failures = new ConnectionFailures(logger.child({ component: "kafkajs" }));
    const log = kafkaLogCreator(logger, failures)(logLevel.WARN);
    const fail = () => {
      for (const entry of attempt()) log(entry);
    };
    // A run of 3 attempts 1 s apart, then silence: one line 5 s after the last.
    fail();
    vi.advanceTimersByTime(1_000);
    fail();
    vi.advanceTimersByTime(1_000);
    fail();
    vi.advanceTimersByTime(4_000);
    expect(warnings(lines)).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(warnings(lines).map((l) => l.msg)).toEqual([
      "cannot reach broker 127.0.0.1:9092: ECONNREFUSED (3 attempts in 2 s)",
    ]);

    // An outage with an attempt every 2 s for three minutes: a line at 15 s, then one a minute.
    lines.length = 0;
    for (let t = 0; t < 180_000; t += 2_000) {
      fail();
      vi.advanceTimersByTime(2_000);
    }
    const during = warnings(lines);
    expect(during.map((l) => l.stillFailing)).toEqual([true, true, true]);
    expect(during[0]?.msg).toBe(
      "cannot reach broker 127.0.0.1:9092: ECONNREFUSED (8 attempts in 14 s; still trying)",
    );
    vi.advanceTimersByTime(20_000);
    const all = warnings(lines);
    expect(all).toHaveLength(4);
    expect(all.at(-1)).not.toHaveProperty("stillFailing");
    // Every attempt is counted in exactly one line.
    expect(all.reduce((n, l) => n + (l.attempts as number), 0)).toBe(90);
  });

  it("keeps other kafkajs warnings as warnings, and drops their kafkajs timestamp", () => {
    const { logger, lines } = recording();
    const log = kafkaLogCreator(
      logger,
      new ConnectionFailures(logger.child({ component: "kafkajs" })),
    )(logLevel.WARN);
    log({
      namespace: "ConsumerGroup",
      level: logLevel.ERROR,
      label: "ERROR",
      log: {
        timestamp: "x",
        logger: "kafkajs",
        message: "The group is rebalancing, re-joining",
        groupId: "g",
      },
    });
    expect(warnings(lines)).toEqual([
      expect.objectContaining({
        level: 40,
        namespace: "ConsumerGroup",
        groupId: "g",
        msg: "The group is rebalancing, re-joining",
      }),
    ]);
    expect(warnings(lines)[0]).not.toHaveProperty("timestamp");
  });
});

describe("createKafka against a port nothing listens on", () => {
  it("logs one warning for all the failed attempts, before connect() rejects, and no stack at warn", async () => {
    // A port that was free a moment ago: connections to it are refused.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { logger, lines } = recording();
    const settings = {
      clientId: "t",
      brokers: [`127.0.0.1:${port}`],
      ssl: false,
    } as unknown as KafkaSettings;
    const kafka = createKafka(settings, logger, {
      retry: { retries: 3, initialRetryTime: 20, maxRetryTime: 50 },
    });
    const admin = kafka.admin();
    let warningsWhenRejected: number | undefined;
    await expect(
      admin.connect().catch((error: unknown) => {
        warningsWhenRejected = warnings(lines).length;
        throw error;
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(warningsWhenRejected).toBe(1);
    const [warning] = warnings(lines);
    expect(warning?.msg).toMatch(
      new RegExp(`^cannot reach broker 127\\.0\\.0\\.1:${port}: ECONNREFUSED \\(4 attempts in [\\d.]+ s\\)$`),
    );
    expect(JSON.stringify(warning)).not.toMatch(/stack|at /);
    expect(lines.filter((l) => l.level === 20 && typeof l.stack === "string").length).toBe(4);
  });
});
