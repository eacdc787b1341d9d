// Message group order on FIFO queues. SQS hands out a group's messages in order and holds the group
// back while any of them is in flight, but one receive can return several messages of a group at
// once; the pipeline only orders by payment intent. So a group's next message starts only once the
// one before it settled, and when one will be delivered again (released because the relay failed on
// it or is stopping, or its lease was lost) the rest of the group held here is released behind it, so
// SQS delivers them again in order.
import { DeliveryQueue, type SqsDelivery } from "./delivery.ts";

export class GroupOrder {
  /** Groups with a delivery ahead (taken or about to be), and what waits behind it (null: nothing). */
  readonly #busy = new Map<string, DeliveryQueue | null>();

  /** Groups with a delivery ahead. */
  get size(): number {
    return this.#busy.size;
  }

  /** True when the delivery may go ahead now; otherwise it waits behind its group's delivery ahead. */
  admit(group: string, delivery: SqsDelivery): boolean {
    if (!this.#busy.has(group)) {
      this.#busy.set(group, null);
      return true;
    }
    let waiting = this.#busy.get(group);
    if (waiting === null || waiting === undefined) {
      waiting = new DeliveryQueue();
      this.#busy.set(group, waiting);
    }
    waiting.push(delivery);
    return false;
  }

  /** The group's delivery ahead settled: the next one goes ahead (undefined: the group is free). */
  settled(group: string): SqsDelivery | undefined {
    const next = this.#busy.get(group)?.shift();
    if (next === undefined) this.#busy.delete(group);
    return next;
  }

  /** The group's delivery ahead was released: what waited behind it, to release too. The group is free. */
  failed(group: string): DeliveryQueue | undefined {
    const waiting = this.#busy.get(group);
    this.#busy.delete(group);
    return waiting ?? undefined;
  }

  /** Everything waiting behind a delivery ahead (at close); the groups are forgotten. */
  takeAll(): SqsDelivery[] {
    const all: SqsDelivery[] = [];
    for (const waiting of this.#busy.values()) {
      for (let d = waiting?.shift(); d !== undefined; d = waiting?.shift()) all.push(d);
    }
    this.#busy.clear();
    return all;
  }
}
