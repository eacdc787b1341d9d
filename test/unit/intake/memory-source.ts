// An in-memory transport source for the intake runner's tests: lanes that count their unacknowledged
// deliveries, deliveries that record how they were answered, and a record of pauses and resumes.
import type { Intake, IntakeLane, IntakeSource, SourceDelivery } from "../../../src/intake/index.ts";

export class MemoryLane implements IntakeLane {
  readonly name: string;
  pending = 0;
  fenced = false;
  constructor(name: string) {
    this.name = name;
  }
}

export type Answer = "ack" | "release" | { readonly failed: unknown };

export class MemoryDelivery implements SourceDelivery<MemoryLane, string> {
  readonly body: string;
  readonly headers = {};
  readonly transport = "sqs" as const;
  readonly origin: string;
  readonly lane: MemoryLane;
  readonly id: string;
  answer: Answer | undefined;

  constructor(lane: MemoryLane, id: string) {
    this.lane = lane;
    this.id = id;
    this.body = id;
    this.origin = `${lane.name}/${id}`;
    lane.pending += 1;
  }

  ack(): void {
    this.#answer("ack");
    this.lane.pending -= 1;
  }

  release(error?: unknown): void {
    this.#answer(error === undefined ? "release" : { failed: error });
    this.lane.pending -= 1;
  }

  fenced(): boolean {
    return this.lane.fenced;
  }

  #answer(answer: Answer): void {
    if (this.answer !== undefined) throw new Error(`${this.id} answered twice`);
    this.answer = answer;
  }
}

export class MemorySource implements IntakeSource<MemoryLane> {
  intake: Intake<MemoryLane> | undefined;
  /** "pause", or "resume" with the lanes held back, in call order. */
  readonly calls: string[] = [];
  readonly delivered: MemoryDelivery[] = [];
  readonly lanes = new Set<MemoryLane>();
  quiesced = 0;
  closed = 0;
  /** Whether the source would fetch now: not paused, and the lane not held back. */
  paused = false;
  heldBack: ReadonlySet<MemoryLane> = new Set();

  async open(intake: Intake<MemoryLane>): Promise<void> {
    this.intake = intake;
  }

  pause(): void {
    this.paused = true;
    this.calls.push("pause");
  }

  resume(heldBack: ReadonlySet<MemoryLane>): void {
    this.paused = false;
    this.heldBack = new Set(heldBack);
    this.calls.push(`resume${[...heldBack].map((l) => ` -${l.name}`).join("")}`);
  }

  get pending(): number {
    let pending = 0;
    for (const lane of this.lanes) pending += lane.pending;
    return pending;
  }

  quiesce(): void {
    this.quiesced += 1;
  }

  async close(): Promise<void> {
    this.closed += 1;
  }

  /** Hands a batch of `ids` from `lane` over the way a transport does; returns those taken. */
  batch(lane: MemoryLane, ...ids: string[]): MemoryDelivery[] {
    const intake = this.intake;
    if (intake === undefined) throw new Error("not open");
    this.lanes.add(lane);
    const taken: MemoryDelivery[] = [];
    for (const id of ids) {
      if (!intake.accepting) break;
      const delivery = new MemoryDelivery(lane, id);
      taken.push(delivery);
      this.delivered.push(delivery);
      intake.take(delivery);
    }
    intake.taken(lane);
    return taken;
  }

  /** Whether a fetch of the lane would happen now. */
  fetching(lane: MemoryLane): boolean {
    return !this.paused && !this.heldBack.has(lane);
  }
}
