// The SQS servers the SQS integration tests run against: ElasticMQ (found or started once per run by
// the integration project's global setup, handed over through `inject("servers")`) and fauxqs, an
// in-process SQS emulator started here, in the test file's own worker, on a free loopback port and
// stopped after the file. Its queue URLs name `sqs.<region>.localhost:<port>`; the SDK sends every
// call to the endpoint it was given, so the host in a queue URL is never resolved.
//
// Use at the top level of a test file, before its describe blocks:
//
//   const servers = await sqsServers();
//   describe.each(servers)("... ($name)", ({ endpoint }) => { ... });
import type { AddressInfo } from "node:net";
import { buildApp } from "fauxqs";
import { afterAll, inject } from "vitest";

export type SqsServerName = "elasticmq" | "fauxqs";

export interface SqsServer {
  readonly name: SqsServerName;
  readonly endpoint: string;
}

export interface StartedFauxqs {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Starts a fauxqs server listening on 127.0.0.1 only, on a port the OS picks. */
export async function startFauxqs(): Promise<StartedFauxqs> {
  const app = buildApp({ logger: false });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => app.close() };
}

/**
 * Both SQS servers, with a fauxqs server of the calling test file's own, stopped after the file's last
 * test. Call once per file, while it is being collected (top level), so the stop can be registered.
 */
export async function sqsServers(): Promise<readonly [SqsServer, SqsServer]> {
  const fauxqs = await startFauxqs();
  afterAll(() => fauxqs.stop());
  return [
    { name: "elasticmq", endpoint: inject("servers").sqsEndpoint },
    { name: "fauxqs", endpoint: fauxqs.endpoint },
  ];
}
