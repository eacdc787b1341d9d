// A consumer kafkajs gave up on: a crash it will not restart from, or a stop the relay did not ask for,
// stops the relay (through onFatal) instead of leaving it alive and consuming nothing. A crash it does
// restart from is logged; one naming an unknown topic or partition counts as the topic seen missing.
import type { InputState } from "./input-state.ts";
import type { TopicWatch } from "./recreation.ts";

/** The kafkajs consumer stopped and will not start again on its own. */
export class ConsumerStoppedError extends Error {
  override readonly name = "ConsumerStoppedError";
}

/**
 * kafkajs emits STOP on its way to reporting a crash, and CRASH a moment later (once its connections
 * are closed). A STOP that this relay did not ask for and no CRASH follows within this time means the
 * consumer is gone.
 */
const UNEXPECTED_STOP_GRACE_MS = 10_000;

export class CrashWatch {
  readonly #s: InputState;
  readonly #topic: TopicWatch;
  #unexpectedStop: NodeJS.Timeout | undefined;

  constructor(state: InputState, topic: TopicWatch) {
    this.#s = state;
    this.#topic = topic;
  }

  /** kafkajs stopped the consumer. If CRASH does not follow, nothing will restart it. */
  stopped(): void {
    const s = this.#s;
    if (s.stopping || this.#unexpectedStop !== undefined) return;
    this.#unexpectedStop = setTimeout(() => {
      this.#unexpectedStop = undefined;
      if (s.stopping) return;
      const error = new ConsumerStoppedError("the Kafka consumer stopped without being asked to");
      s.consumerGone = true;
      s.log.fatal({ err: error, alert: true }, "kafka consumer stopped on its own; the relay stops");
      s.fail(error);
    }, UNEXPECTED_STOP_GRACE_MS);
    this.#unexpectedStop.unref();
  }

  crashed(error: Error, restart: boolean): void {
    const s = this.#s;
    this.quiesce();
    if (s.stopping) {
      s.log.warn({ err: error }, "kafka consumer crashed while stopping");
      return;
    }
    if (!restart) {
      s.consumerGone = true;
      s.log.fatal(
        { err: error, alert: true },
        "kafka consumer crashed and will not restart; nothing more would be consumed, so the relay stops",
      );
      s.fail(error);
      return;
    }
    s.log.error({ err: error, restart }, "kafka consumer crashed; kafkajs restarts it");
    if (hasErrorType(error, "UNKNOWN_TOPIC_OR_PARTITION")) this.#topic.reportedMissing();
  }

  /** Stops waiting for a CRASH after a STOP. */
  quiesce(): void {
    clearTimeout(this.#unexpectedStop);
    this.#unexpectedStop = undefined;
  }
}

/** Whether a kafkajs error, or one of its causes, has this protocol error type. */
function hasErrorType(error: unknown, type: string): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if ((e as { type?: unknown }).type === type) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
