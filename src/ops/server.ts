// The operations endpoints on HTTP_PORT: GET (or HEAD) /healthz, /readyz and /metrics. Health and
// readiness answer 200 or 503 with a small JSON body saying why; metrics are Prometheus text. Nothing
// here changes the relay: every route only reads.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logger.ts";
import type { Liveness } from "./liveness.ts";
import type { RelayMetrics } from "./metrics.ts";
import type { Readiness } from "./readiness.ts";

export interface OpsServerDeps {
  readonly liveness: Liveness;
  readonly readiness: Readiness;
  readonly metrics: RelayMetrics;
  readonly logger: Logger;
}

function sendJson(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(head ? undefined : text);
}

export class OpsServer {
  readonly #d: OpsServerDeps;
  readonly #server: Server;

  constructor(deps: OpsServerDeps) {
    this.#d = deps;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    // Probes and scrapes are short; an idle keep-alive connection must not hold the shutdown up.
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Listens; resolves with the port (useful when 0 asked for any). */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#server.once("error", onError);
      this.#server.listen(port, host, () => {
        this.#server.off("error", onError);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) {
      res.setHeader("allow", "GET, HEAD");
      sendJson(res, 405, { error: "method not allowed" }, false);
      return;
    }
    try {
      switch (path) {
        case "/healthz": {
          const report = this.#d.liveness.evaluate();
          sendJson(
            res,
            report.alive ? 200 : 503,
            { status: report.alive ? "ok" : "wedged", ...report },
            head,
          );
          return;
        }
        case "/readyz": {
          const report = this.#d.readiness.evaluate();
          sendJson(res, report.ready ? 200 : 503, report, head);
          return;
        }
        case "/metrics": {
          const text = await this.#d.metrics.render();
          res.writeHead(200, {
            "content-type": this.#d.metrics.contentType,
            "content-length": Buffer.byteLength(text),
          });
          res.end(head ? undefined : text);
          return;
        }
        default:
          sendJson(res, 404, { error: "not found", endpoints: ["/healthz", "/readyz", "/metrics"] }, head);
      }
    } catch (error) {
      this.#d.logger.error({ err: error, path }, "operations endpoint failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" }, head);
      else res.destroy();
    }
  }
}
