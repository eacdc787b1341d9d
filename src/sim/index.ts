// The Dojo API simulator: a real HTTP server with Dojo's paths and rules, plus /_sim/ test routes.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, silentLogger } from "../logger.ts";
import { SimKeys } from "./auth.ts";
import { handleControl } from "./control-routes.ts";
import { dispatchDojo } from "./dojo-dispatch.ts";
import { FaultInjector } from "./faults.ts";
import { readBody, sendReply } from "./http-io.ts";
import { IdempotencyStore } from "./idempotency.ts";
import { problem } from "./problems.ts";
import { RequestLog } from "./request-log.ts";
import { SimState } from "./state.ts";

export { createSimControl, type SimControl, type SimKeyState } from "./control.ts";
export type { FaultConfig, FaultConfigInput, FaultName } from "./faults.ts";
export type { LoggedRequest } from "./request-log.ts";

export interface DojoSimulatorOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Accepted secret keys; default ["sk_sandbox_test"]. */
  readonly apiKeys?: readonly string[];
  /** Seed of the fault streams; default 1. */
  readonly seed?: number;
  readonly logger?: Logger;
}

export interface DojoSimulator {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startDojoSimulator(options: DojoSimulatorOptions = {}): Promise<DojoSimulator> {
  const logger = options.logger ?? silentLogger;
  const keys = new SimKeys(options.apiKeys ?? ["sk_sandbox_test"]);
  const deps = {
    keys,
    state: new SimState(),
    idempotency: new IdempotencyStore(),
    faults: new FaultInjector(options.seed ?? 1),
    log: new RequestLog(),
    startedAt: Date.now(),
  };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q < 0 ? url : url.slice(0, q);
    const bodyText = await readBody(req);
    if (bodyText === undefined) {
      sendReply(res, problem(413, "Payload Too Large"));
      return;
    }
    if (pathname.startsWith("/_sim/")) {
      const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
      sendReply(res, handleControl(deps, req.method ?? "GET", pathname, query, bodyText));
      return;
    }
    await dispatchDojo(deps, req, res, pathname, bodyText);
  }

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    onRequest(req, res).catch((error: unknown) => {
      logger.error({ err: error }, "dojo-sim request failed");
      sendReply(res, problem(500, "Internal Server Error", "Simulator bug."));
    });
  });
  server.headersTimeout = 70_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, accounts: keys.fingerprints }, "dojo-sim listening");
  return {
    url,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
