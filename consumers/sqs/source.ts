// The SQS input queue as an intake source. Several long-poll loops (receiver.ts) receive messages;
// each becomes a delivery whose lease (leases.ts) the heartbeat keeps invisible (heartbeat.ts) and
// which is handed to the intake runner without waiting for the one before, in group order on FIFO
// queues (groups.ts). Answers map to SQS: ack deletes the message (acks.ts), release changes its
// visibility (visibility.ts): to 0 while stopping, else after a backoff on its receive count.
// Messages received while the intake is closed (a fault of the relay's own world, or stopping) wait
// here, kept invisible, instead of being handed back to SQS: handing them back would count a receive
// toward the queue's maxReceiveCount without any work done. At close they are released at once.
import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import type { Intake, IntakeSource } from "../../src/intake/index.ts";
import type { Logger } from "../../src/logger.ts";
import { Deletions } from "./acks.ts";
import { headersOf } from "./attributes.ts";
import { type DeliveryAnswers, DeliveryQueue, SqsDelivery, SqsQueue } from "./delivery.ts";
import { GroupOrder } from "./groups.ts";
import { Heartbeat } from "./heartbeat.ts";
import { MessageLeases } from "./leases.ts";
import { receiveLoop } from "./receiver.ts";
import { type ReleaseBackoff, releaseDelayS, VisibilityChanges } from "./visibility.ts";

export interface SqsSourceOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly receiveConcurrency: number;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutS: number;
  /** Extend the visibility of messages held before it runs out. */
  readonly heartbeat: boolean;
  readonly maxProcessingS: number;
  readonly releaseBackoff?: ReleaseBackoff;
  /** How long acks and visibility changes wait for others to share a batch call (defaults: 20 ms, 5 ms). */
  readonly batchLingerMs?: number;
  readonly logger: Logger;
}

export interface SqsSourceStats {
  readonly received: number;
  readonly deleted: number;
  readonly released: number;
  /** Leases lost (visibility ran out, processing cap, receipt refused): their results were fenced. */
  readonly leasesLost: number;
}

export class SqsSource implements IntakeSource<SqsQueue>, DeliveryAnswers {
  readonly lane: SqsQueue;
  readonly #o: SqsSourceOptions;
  readonly #log: Logger;
  readonly #leases: MessageLeases;
  readonly #deletions: Deletions;
  readonly #visibility: VisibilityChanges;
  readonly #heartbeat: Heartbeat | undefined;
  readonly #groups = new GroupOrder();
  /** Received, waiting to be taken (intake closed, or just received). */
  readonly #ready = new DeliveryQueue();
  readonly #abort = new AbortController();
  readonly #waiters = new Set<(poll: boolean) => void>();
  #intake: Intake<SqsQueue> | undefined;
  #loops: Promise<void>[] = [];
  #paused = false;
  #heldBack = false;
  #closed = false;
  #draining = false;
  #received = 0;
  #released = 0;
  /** Deliveries released since stopping began: they come back, so they count as abandoned. */
  #releasedWhileStopping = 0;
  /** Set while the last receive of the input queue failed: why, and since when. */
  #receiveError: { readonly message: string; readonly since: Date } | undefined;

  constructor(options: SqsSourceOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.lane = new SqsQueue(options.queueUrl, this);
    this.#leases = new MessageLeases(options.visibilityTimeoutS);
    const batch = {
      client: options.client,
      queueUrl: options.queueUrl,
      logger: options.logger,
      ...(options.batchLingerMs === undefined ? {} : { lingerMs: options.batchLingerMs }),
    };
    this.#deletions = new Deletions(batch);
    this.#visibility = new VisibilityChanges(batch);
    this.#heartbeat = options.heartbeat
      ? new Heartbeat({
          leases: this.#leases,
          visibility: this.#visibility,
          logger: options.logger,
          visibilityTimeoutS: options.visibilityTimeoutS,
          maxProcessingS: options.maxProcessingS,
        })
      : undefined;
  }

  get pending(): number {
    return this.lane.pending + this.#releasedWhileStopping;
  }

  /**
   * Set while receiving from the input queue fails (the last receive of any loop failed): its error's
   * message and since when. Cleared by the next receive that works (on an empty queue that is when its
   * long poll ends, up to SQS_WAIT_TIME_S later), and when the loops stop polling (paused, held back).
   */
  get receiveError(): { readonly message: string; readonly since: Date } | undefined {
    return this.#receiveError;
  }

  get stats(): SqsSourceStats {
    return {
      received: this.#received,
      deleted: this.#deletions.deleted,
      released: this.#released,
      leasesLost: this.#visibility.lost + (this.#heartbeat?.lost ?? 0),
    };
  }

  async open(intake: Intake<SqsQueue>): Promise<void> {
    this.#intake = intake;
    this.#heartbeat?.start();
    const control = {
      mayPoll: () => this.#mayPoll(),
      received: (messages: Message[], at: number) => this.#onReceived(messages, at),
      signal: this.#abort.signal,
      receiveFailed: (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.#receiveError = { message, since: this.#receiveError?.since ?? new Date() };
      },
      receiveWorked: () => {
        this.#receiveError = undefined;
      },
    };
    const receiver = {
      client: this.#o.client,
      queueUrl: this.#o.queueUrl,
      fifo: this.lane.fifo,
      waitTimeSeconds: this.#o.waitTimeSeconds,
      visibilityTimeoutS: this.#o.visibilityTimeoutS,
      logger: this.#log,
    };
    for (let i = 0; i < this.#o.receiveConcurrency; i++) this.#loops.push(receiveLoop(receiver, control));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(heldBack: ReadonlySet<SqsQueue>): void {
    this.#paused = false;
    this.#heldBack = heldBack.has(this.lane);
    this.#drain();
    this.#wake();
  }

  /** Stops receiving: the loops end, and a long poll on its way is aborted. Heartbeats go on. */
  quiesce(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#wake();
  }

  /**
   * After the drain: releases at once what was received and never taken, sends the deletes and
   * releases still queued, and stops the heartbeat.
   */
  async close(): Promise<void> {
    this.quiesce();
    await Promise.allSettled(this.#loops);
    for (let d = this.#ready.shift(); d !== undefined; d = this.#ready.shift()) this.#giveBack(d, 0);
    for (const d of this.#groups.takeAll()) this.#giveBack(d, 0);
    await Promise.all([this.#deletions.close(), this.#visibility.close()]);
    this.#heartbeat?.stop();
  }

  acked(delivery: SqsDelivery): void {
    const lease = delivery.lease;
    this.lane.pending -= 1;
    this.#leases.letGo(lease);
    if (lease.lost !== undefined) {
      this.#log.debug(
        { messageId: lease.messageId, lost: lease.lost },
        "result of a message whose lease was lost not acknowledged",
      );
    } else if (!lease.settled) {
      this.#deletions.delete(lease);
    }
    // A message not deleted comes back: what follows it in its group must wait for it.
    this.#groupMoves(delivery, lease.lost === undefined);
  }

  released(delivery: SqsDelivery, error: unknown): void {
    const stopping = this.#intake?.stopping === true;
    const delayS = stopping ? 0 : releaseDelayS(delivery.lease.receiveCount, this.#o.releaseBackoff);
    if (error !== undefined) {
      this.#log.error(
        { err: error, messageId: delivery.origin.messageId, visibleInS: delayS, alert: true },
        "pipeline failed on an SQS message; it is released and delivered again",
      );
    }
    this.#giveBack(delivery, delayS);
    this.#groupMoves(delivery, false);
  }

  /**
   * FIFO: after a group's delivery ahead was answered, its next one goes ahead, or, when the one
   * ahead will be delivered again, the rest held here is released behind it, so SQS keeps the order.
   */
  #groupMoves(delivery: SqsDelivery, settled: boolean): void {
    const group = delivery.group;
    if (group === undefined) return;
    if (settled) {
      const next = this.#groups.settled(group);
      if (next === undefined) return;
      this.#ready.push(next);
      this.#drain();
      return;
    }
    const behind = this.#groups.failed(group);
    if (behind === undefined) return;
    for (let d = behind.shift(); d !== undefined; d = behind.shift()) this.#giveBack(d, 0);
  }

  /** Answers a delivery without settling it: its message is released unless another delivery holds it. */
  #giveBack(delivery: SqsDelivery, delayS: number): void {
    const lease = delivery.lease;
    this.lane.pending -= 1;
    this.#leases.letGo(lease);
    if (this.#intake?.stopping === true) this.#releasedWhileStopping += 1;
    if (!lease.live || lease.holders > 0) return;
    this.#released += 1;
    this.#visibility.release(lease, delayS);
  }

  #mayPoll(): boolean | Promise<boolean> {
    if (this.#closed) return false;
    if (this.#canPoll()) return true;
    // No receive is made while the loops wait, so none could clear a failure seen before: forget it
    // rather than report it for as long as the relay is paused or held back (the queue-depth poll
    // still tells whether SQS answers meanwhile).
    this.#receiveError = undefined;
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  #canPoll(): boolean {
    return !this.#paused && !this.#heldBack && this.#ready.length === 0 && this.#intake?.accepting === true;
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const poll = this.#closed ? false : this.#canPoll();
    if (!poll && !this.#closed) return;
    for (const resolve of this.#waiters) resolve(poll);
    this.#waiters.clear();
  }

  #onReceived(messages: Message[], at: number): void {
    const lane = this.lane;
    for (const m of messages) {
      const attributes = m.Attributes;
      const receiveCount = Number(attributes?.ApproximateReceiveCount ?? "1") || 1;
      const lease = this.#leases.received(m, receiveCount, at);
      const delivery = new SqsDelivery(lane, lease, m.Body, headersOf(m.MessageAttributes), {
        queueUrl: lane.url,
        messageId: lease.messageId,
        receiptHandle: lease.handle,
        receiveCount,
        messageGroupId: attributes?.MessageGroupId,
        sentTimestamp: attributes?.SentTimestamp,
      });
      lane.pending += 1;
      this.#received += 1;
      const group = delivery.group;
      if (group === undefined || this.#groups.admit(group, delivery)) this.#ready.push(delivery);
    }
    this.#drain();
  }

  /** Hands waiting deliveries to the intake while it accepts them. */
  #drain(): void {
    const intake = this.#intake;
    if (intake === undefined || this.#draining) return;
    this.#draining = true;
    let took = false;
    try {
      while (this.#ready.length > 0 && intake.accepting) {
        const delivery = this.#ready.shift() as SqsDelivery;
        if (delivery.fenced()) {
          // Its lease was lost while it waited: another receipt of the message takes its place.
          this.released(delivery, undefined);
          continue;
        }
        intake.take(delivery);
        took = true;
      }
    } finally {
      this.#draining = false;
    }
    if (took) intake.taken(this.lane);
  }
}
