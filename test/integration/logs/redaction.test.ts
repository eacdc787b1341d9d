// No configured secret reaches a log line, an outcome or a dead letter. A full relay scenario runs with
// a Dojo key, a PostgreSQL ledger URL with a password and AWS keys, all made of a marker no other value
// contains, and every line is kept: in-process relays log to a stream (at trace), and `refund-relay
// start` processes are read from stdout and stderr (JSON and pretty). The scenario includes the error
// paths, where secrets tend to escape: a Dojo key revoked at run time (401, intake paused), the ledger's
// server unreachable and back, a parked event and an unreadable one (dead letters), a relay started with
// a key Dojo refuses, and one started against a broker that is down. Then no line, outcome or dead
// letter may contain the marker; personal data from the events (a name in the reason, an email in the
// metadata) may not appear in a log line either.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startRelay } from "../../../src/cli/relay-app.ts";
import { loadConfig } from "../../../src/config.ts";
import { createLogger, type Logger } from "../../../src/logger.ts";
import {
  createSimControl,
  type DojoSimulator,
  type SimControl,
  startDojoSimulator,
} from "../../../src/sim/index.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { exitWithin, type ReturnApproved } from "../../support/fleet.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";
import { SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";
import { TcpProxy } from "../../support/tcp-proxy.ts";

const { kafkaBrokers, sqsEndpoint, databaseUrl } = inject("servers");

/**
 * Every secret carries this marker, and so do the unreadable messages (the start of a body is what a
 * JSON parse error quotes); no other value in the run does. A line with "LOGLEAK" in it leaked.
 */
const LEAK = "LOGLEAK";
const MARKER = `${LEAK}${randomBytes(5).toString("hex")}`;
const SECRETS = {
  dojoKey: `sk_sandbox_${MARKER}dojo`,
  refusedKey: `sk_sandbox_${MARKER}refused`,
  pgPassword: `pw${MARKER}pg`,
  awsSecretKey: `aws${MARKER}secret`,
  awsSessionToken: `aws${MARKER}session`,
};
/** Personal data in the events: fine in outcomes and dead letters (they carry the event), never in logs. */
const PERSON = `Jane ${MARKER.slice(7)} Customer`;
const EMAIL = `jane.${MARKER.slice(7)}@example.com`;

const ROLE = `rr_logs_${MARKER.slice(7)}`;
const DATABASE = `rr_logs_${MARKER.slice(7)}`;

/** Lines holding a secret, a piece of one, or personal data. */
function leaks(lines: readonly string[]): string[] {
  return lines.filter((line) => line.includes(LEAK) || line.includes(PERSON) || line.includes(EMAIL));
}

/** Outcomes and dead letters holding a secret (the events' personal data is theirs to carry). */
function secretLeaks(texts: readonly string[]): string[] {
  return texts.filter((text) => Object.values(SECRETS).some((secret) => text.includes(secret)));
}

function capturingLogger(lines: string[]): Logger {
  const destination = {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line !== "") lines.push(line);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return createLogger({ level: "trace", destination });
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function personalEvent(paymentIntentId: string, amount: number): ReturnApproved {
  return returnApproved({
    paymentIntentId,
    amount,
    reason: `Returned by ${PERSON}`,
    metadata: { customerEmail: EMAIL },
  });
}

let sim: DojoSimulator;
let dojo: SimControl;
let proxy: TcpProxy;
let ledgerUrl: string;

beforeAll(async () => {
  await admin(async (c) => {
    await c.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${SECRETS.pgPassword}'`);
    await c.query(`CREATE DATABASE ${DATABASE} OWNER ${ROLE}`);
  });
  const server = new URL(databaseUrl);
  // The ledger is reached through a proxy the test can stop, as a server that went away.
  proxy = await new TcpProxy(`${server.hostname}:${server.port || "5432"}`).start();
  ledgerUrl = `postgres://${ROLE}:${SECRETS.pgPassword}@127.0.0.1:${proxy.port}/${DATABASE}`;
  sim = await startDojoSimulator({ apiKeys: [SECRETS.dojoKey] });
  dojo = createSimControl(sim.url);
});

afterAll(async () => {
  await sim?.close();
  await proxy?.stop();
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${ROLE}`);
  });
});

/** The environment every relay of the run gets: the secrets, whatever the transport reads of them. */
function secretEnv(): Record<string, string> {
  return {
    DOJO_BASE_URL: sim.url,
    DOJO_API_KEY: SECRETS.dojoKey,
    LEDGER_URL: ledgerUrl,
    LEDGER_CONNECT_TIMEOUT_MS: "1000",
    LEDGER_STATEMENT_TIMEOUT_MS: "2000",
    AWS_ACCESS_KEY_ID: "AKIALOGSTEST",
    AWS_SECRET_ACCESS_KEY: SECRETS.awsSecretKey,
    AWS_SESSION_TOKEN: SECRETS.awsSessionToken,
    RETRY_MAX_ATTEMPTS: "3",
    RETRY_MAX_AGE_MS: "20000",
    LOG_PROGRESS_INTERVAL_MS: "500",
  };
}

describe("secrets and personal data never reach the logs", () => {
  it("over Kafka and SQS, in-process and as `refund-relay start`, error paths included", async () => {
    const inProcess: string[] = [];
    const processes: Array<{ name: string; output: () => string }> = [];
    const kafka = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 2 }).setUp();
    const sqs = await new SqsHarness({ endpoint: sqsEndpoint }).setUp();
    try {
      const env = secretEnv();
      const intents = await dojo.createIntents({ amount: 5000, status: "Captured" }, 8);
      const at = (i: number) => intents[i] as string;
      // In process, logging every line at trace to the test.
      const running = await startRelay(loadConfig(kafka.env(env)), capturingLogger(inProcess));
      try {
        // Refunds, a refusal by Dojo (more than was captured), an invalid event, unreadable bytes.
        const good = [personalEvent(at(0), 1000), personalEvent(at(1), 2000), personalEvent(at(2), 3000)];
        const over = personalEvent(at(3), 9000);
        const invalid = personalEvent(at(4), -5);
        await kafka.produce([
          ...[...good, over, invalid].map(structuredRecord),
          {
            key: at(5),
            value: `${MARKER}: ${PERSON}`,
            headers: { "content-type": "application/cloudevents+json" },
          },
        ]);
        await kafka.waitFor(
          () => kafka.outcomes().length === 5 && kafka.deadLetters().length === 1,
          "five outcomes and a dead letter",
        );

        // The key is revoked at Dojo: 401, intake pauses with an alert, and resumes once it works again.
        await dojo.revokeKey(SECRETS.dojoKey);
        const afterRevoke = personalEvent(at(5), 500);
        await kafka.produce([structuredRecord(afterRevoke)]);
        await expect
          .poll(async () => (await dojo.stats()).responsesByOutcome["401"] ?? 0, { timeout: 20_000 })
          .toBeGreaterThan(0);
        await sleep(500);
        await dojo.restoreKey(SECRETS.dojoKey);
        await kafka.waitFor(() => kafka.outcomesOf(afterRevoke.id).length === 1, "the event after the 401s");

        // The ledger's server goes away, and comes back.
        await proxy.stop();
        const duringOutage = personalEvent(at(6), 700);
        await kafka.produce([structuredRecord(duringOutage)]);
        await sleep(3_000);
        await proxy.start();
        await kafka.waitFor(
          () => kafka.outcomesOf(duringOutage.id).length === 1,
          "the event after the outage",
        );

        // Dojo never answers one refund: parked, a dead letter for a person.
        await dojo.setFaults({ routes: { createRefund: { error503Rate: 1 } } });
        const parked = personalEvent(at(7), 800);
        await kafka.produce([structuredRecord(parked)]);
        await kafka.waitFor(() => kafka.deadLetters().length === 2, "the parked event");
        await dojo.clearFaults();
        await sleep(600); // a progress line after the last settlement
      } finally {
        await running.stop();
      }

      // The scenario happened as intended: these lines are what the check below reads.
      const parsed = inProcess.map((l) => JSON.parse(l) as Record<string, unknown>);
      const settled = parsed.filter((l) => l.msg === "refund settled" || l.msg === "message dead-lettered");
      expect(settled.map((l) => `${l.outcome}:${l.code ?? ""}`).sort()).toEqual(
        [
          "dead_lettered:retry_budget_exhausted",
          "dead_lettered:unparseable",
          "failed:amount_exceeds_refundable",
          "failed:invalid_event",
          ...Array(5).fill("succeeded:"),
        ].sort(),
      );
      expect(parsed.some((l) => l.alert === true && l.fault === "dojo_credentials")).toBe(true);
      expect(parsed.some((l) => l.fault === "ledger")).toBe(true);
      expect(parsed.some((l) => l.msg === "progress")).toBe(true);

      // Against a broker that is down (after the key was revoked and restored: its start-up key check
      // must pass); it takes kafkajs' retries, about 8 s, to give up, meanwhile the rest goes on.
      const down = kafka.spawnRelay({
        ...env,
        KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
        LOG_LEVEL: "debug",
      });
      processes.push({ name: "broker down", output: down.output });

      // `refund-relay start` over Kafka: a refund, then SIGTERM.
      const child = kafka.spawnRelay({ ...env, LOG_LEVEL: "debug" });
      processes.push({ name: "kafka start", output: child.output });
      const late = personalEvent(at(0), 100);
      await kafka.produce([structuredRecord(late)]);
      await kafka.waitFor(() => kafka.outcomesOf(late.id).length === 1, "the spawned relay's refund", 45_000);
      child.kill("SIGTERM");
      expect(await exitWithin(child, 20_000)).toBe(0);

      // A key Dojo refuses at start-up: exit 2, saying why without the key.
      const refused = kafka.spawnRelay({ ...env, DOJO_API_KEY: SECRETS.refusedKey, LOG_LEVEL: "debug" });
      processes.push({ name: "refused key", output: refused.output });
      expect(await exitWithin(refused, 20_000)).toBe(2);
      expect(await exitWithin(down, 30_000), down.output()).toBe(1);
      expect(down.output()).toMatch(/cannot reach broker 127\.0\.0\.1:\d+: ECONNREFUSED/);

      // SQS: in-process, with the AWS keys, a refund and an unreadable message.
      // Short long polls: one cut off by the stop below ends at the server within a second, instead of
      // taking the next message out of sight for a visibility timeout.
      const sqsRunning = await sqs.startRelay(
        { ...env, SQS_WAIT_TIME_S: "1" },
        {},
        capturingLogger(inProcess),
      );
      const sqsEvent = personalEvent(at(1), 100);
      await sqs.send([structuredMessage(sqsEvent), { body: `${MARKER}: ${EMAIL}` }]);
      await sqs.waitFor(
        () => sqs.outcomesOf(sqsEvent.id).length === 1 && sqs.deadLetters().length === 1,
        "the SQS outcome and dead letter",
      );
      await sqsRunning.stop();
      await sleep(1_500);

      // `refund-relay start` over SQS, in the pretty format.
      const sqsChild = sqs.spawnRelay({ ...env, LOG_LEVEL: "debug", LOG_FORMAT: "pretty", NO_COLOR: "1" });
      processes.push({ name: "sqs start (pretty)", output: sqsChild.output });
      const sqsLate = personalEvent(at(2), 100);
      await sqs.send([structuredMessage(sqsLate)]);
      await sqs.waitFor(
        () => sqs.outcomesOf(sqsLate.id).length === 1,
        "the spawned SQS relay's refund",
        45_000,
      );
      sqsChild.kill("SIGTERM");
      expect(await exitWithin(sqsChild, 20_000)).toBe(0);
      expect(sqsChild.output()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}refund settled {2}eventId=/m);

      // Now the check itself: every line, every record.
      const processLines = processes.flatMap((p) =>
        p
          .output()
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => `${p.name}: ${l}`),
      );
      expect(processLines.length).toBeGreaterThan(20);
      expect(leaks(inProcess)).toEqual([]);
      expect(leaks(processLines)).toEqual([]);
      // The check finds a secret or personal data when there is one.
      expect(
        leaks([`{"msg":"x","k":"${SECRETS.pgPassword}"}`, `x ${EMAIL}`, `"${MARKER.slice(0, 10)}"...`]),
      ).toHaveLength(3);

      const records = [
        ...kafka.records.map((r) => `${r.topic} ${r.value ?? ""} ${JSON.stringify(r.headers)}`),
        ...sqs.records.map((r) => `${r.queue} ${r.body} ${JSON.stringify(r.attributes)}`),
      ];
      expect(kafka.outcomes().length).toBeGreaterThanOrEqual(8);
      expect(kafka.deadLetters()).toHaveLength(2);
      expect(sqs.deadLetters()).toHaveLength(1);
      expect(secretLeaks(records)).toEqual([]);
    } finally {
      await kafka.tearDown();
      await sqs.tearDown();
    }
  }, 240_000);
});
