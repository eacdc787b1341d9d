// Vitest global setup of the integration project: finds or starts the servers once per run and hands
// their addresses to the tests through `inject("servers")`.
import type { TestProject } from "vitest/node";
import { startTestServers, type TestServers } from "./servers.ts";

declare module "vitest" {
  export interface ProvidedContext {
    servers: TestServers;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = await startTestServers();
  const { servers } = started;
  console.info(
    `integration servers (${servers.origin}): kafka ${servers.kafkaBrokers.join(",")}, sqs ${servers.sqsEndpoint}, ` +
      `postgres ${servers.databaseUrl.replace(/\/\/[^@/]*@/, "//***@")}`,
  );
  project.provide("servers", servers);
  return () => started.stop();
}
