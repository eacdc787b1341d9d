// One message as a transport hands it to the intake. The delivery is the message itself (the pipeline
// hands the same object back to the sink when it dead-letters it, so the sink finds the origin on it),
// plus where it came from and how to answer the transport: ack once it settled, release when it did not.
import type { InboundMessage } from "../pipeline/index.ts";

/**
 * Where deliveries come from and are counted for backpressure: a Kafka partition, an SQS queue. The
 * transport defines `pending`, the lane's deliveries it still holds unacknowledged (Kafka: fetched
 * and not yet below the commit point), so a slow message holds its lane back until it settles.
 */
export interface IntakeLane {
  readonly pending: number;
}

export interface SourceDelivery<L extends IntakeLane = IntakeLane, Origin = unknown> extends InboundMessage {
  /** Where the message came from (dead letters carry it so they can be traced and replayed). */
  readonly origin: Origin;
  /** The lane it came from; its `pending` decides when the lane is held back. */
  readonly lane: L;
  /** It settled (outcome published or dead-lettered): the transport may forget it for good. */
  ack(): void;
  /**
   * It did not settle (abandoned at shutdown or when fenced): the transport must deliver it again.
   * `error` is set when the pipeline failed on it, which is a bug; the transport says what that means.
   */
  release(error?: unknown): void;
  /** True once the transport no longer owns it (partition revoked): nothing may be published for it. */
  fenced(): boolean;
}
