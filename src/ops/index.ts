// Operations endpoints of one relay (HTTP_PORT): liveness, readiness and metrics, composed. They are
// served from before the relay starts (readiness says "starting" while it connects) until it has
// drained; the running relay's parts are attached once they exist.
import type { Logger } from "../logger.ts";
import type { ActiveFault } from "../pipeline/index.ts";
import { Liveness } from "./liveness.ts";
import type { MessageWatch } from "./message-watch.ts";
import { type MetricSources, RelayMetrics } from "./metrics.ts";
import { Readiness, type TransportProbe } from "./readiness.ts";
import { OpsServer } from "./server.ts";

export { timeLedger } from "./ledger-timing.ts";
export { Liveness, WEDGED_AFTER_MS } from "./liveness.ts";
export { MessageWatch, type MessageWatchOptions } from "./message-watch.ts";
export { type MetricSources, RelayMetrics } from "./metrics.ts";
export { type Check, Readiness, type ReadinessReport, type TransportProbe } from "./readiness.ts";
export { OpsServer } from "./server.ts";

export interface OpsOptions {
  readonly port: number;
  readonly host: string;
  readonly stallMs: number;
  readonly transport: "kafka" | "sqs";
  readonly logger: Logger;
  /** Also export prom-client's process and Node.js metrics (CPU, memory, event loop lag, GC). */
  readonly processMetrics?: boolean;
}

/** The running relay's parts that the endpoints read. */
export interface AttachedRelay {
  readonly faults: () => readonly ActiveFault[];
  readonly transport: TransportProbe;
  readonly watch: MessageWatch;
  readonly kafkaLag?: NonNullable<MetricSources["kafkaLag"]>;
  readonly kafkaCrashes?: () => number;
  readonly sqsDepth?: NonNullable<MetricSources["sqsDepth"]>;
}

export class RelayOps {
  readonly metrics: RelayMetrics;
  readonly readiness: Readiness;
  readonly liveness: Liveness;
  readonly #server: OpsServer;
  #relay: AttachedRelay | undefined;
  #port = 0;

  private constructor(options: OpsOptions) {
    this.readiness = new Readiness({ stallMs: options.stallMs });
    this.liveness = new Liveness({ onTick: () => this.readiness.tick() });
    const relay = () => this.#relay;
    const kafka = options.transport === "kafka";
    this.metrics = new RelayMetrics(
      {
        inFlight: () => relay()?.watch.inFlight ?? 0,
        oldestUnsettledSeconds: () => {
          const oldest = relay()?.watch.oldestTakenAt;
          return oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
        },
        faults: () => relay()?.faults() ?? [],
        ready: () => this.readiness.evaluate().ready,
        ...(kafka
          ? { kafkaLag: () => relay()?.kafkaLag?.(), kafkaCrashes: () => relay()?.kafkaCrashes?.() ?? 0 }
          : { sqsDepth: () => relay()?.sqsDepth?.() }),
      },
      { processMetrics: options.processMetrics ?? false },
    );
    this.#server = new OpsServer({
      liveness: this.liveness,
      readiness: this.readiness,
      metrics: this.metrics,
      logger: options.logger,
    });
  }

  /** Starts serving (readiness answers "starting" until attach()). */
  static async start(options: OpsOptions): Promise<RelayOps> {
    const ops = new RelayOps(options);
    ops.#port = await ops.#server.listen(options.port, options.host);
    ops.liveness.start();
    options.logger.info({ port: ops.#port, host: options.host }, "serving /healthz, /readyz and /metrics");
    return ops;
  }

  get port(): number {
    return this.#port;
  }

  attach(relay: AttachedRelay): void {
    this.#relay = relay;
    this.readiness.attach({ faults: relay.faults, transport: relay.transport, work: relay.watch });
  }

  /** The relay began to stop: not ready from now on. Health and metrics are still served. */
  stopping(): void {
    this.readiness.stopping();
  }

  async close(): Promise<void> {
    this.liveness.stop();
    await this.#server.close();
  }
}
