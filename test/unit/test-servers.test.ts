import { describe, expect, it } from "vitest";
import { NO_SERVERS_MESSAGE, parseBrokers, startTestServers } from "../support/servers.ts";

describe("test server discovery", () => {
  it("uses KAFKA_BROKERS, SQS_ENDPOINT and DATABASE_URL as given, starting nothing", async () => {
    const started = await startTestServers({
      KAFKA_BROKERS: " 10.0.0.1:9092, 10.0.0.2:9092 ",
      SQS_ENDPOINT: "http://sqs.test:9324",
      DATABASE_URL: "postgres://u@db.test/x",
    });
    expect(started.servers).toEqual({
      kafkaBrokers: ["10.0.0.1:9092", "10.0.0.2:9092"],
      sqsEndpoint: "http://sqs.test:9324",
      databaseUrl: "postgres://u@db.test/x",
      origin: "env",
    });
    await started.stop();
  });

  it("splits a broker list and drops empty entries", () => {
    expect(parseBrokers("a:1,,b:2 ,")).toEqual(["a:1", "b:2"]);
  });

  it("names every way to provide the servers when none is available", () => {
    for (const way of ["KAFKA_BROKERS", "SQS_ENDPOINT", "DATABASE_URL", "Docker", "Java 17+ and Maven"]) {
      expect(NO_SERVERS_MESSAGE).toContain(way);
    }
  });
});
