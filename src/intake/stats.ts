// Progress of the intake: what settled, what was dead-lettered, and when something last settled (a
// health check compares it with the clock).
import type { MessageResult } from "../pipeline/index.ts";

export interface IntakeStats {
  /** Deliveries in the pipeline now. */
  readonly inFlight: number;
  /** Deliveries that settled: outcome published or dead-lettered. */
  readonly settled: number;
  readonly deadLettered: number;
  readonly lastProgressAt: Date | undefined;
}

export class Progress {
  settled = 0;
  deadLettered = 0;
  lastProgressAt: Date | undefined;

  /** Counts a result that settled its delivery ("published" or "dead-lettered"). */
  record(result: MessageResult): void {
    this.settled += 1;
    if (result.status === "dead-lettered") this.deadLettered += 1;
    this.lastProgressAt = new Date();
  }
}
