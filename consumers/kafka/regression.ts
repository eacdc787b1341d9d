// How input offsets that went backwards are told: the error that stops the relay, and its message.
import type { OffsetRegression } from "./offset-tracker.ts";

/** The input offsets went backwards: the topic was recreated or a log truncated under the relay. */
export class InputOffsetsWentBackError extends Error {
  override readonly name = "InputOffsetsWentBackError";
}

export function describeRegression(
  topic: string,
  partition: number | undefined,
  r: OffsetRegression,
): string {
  const where = `input topic ${topic} partition ${partition}`;
  switch (r.kind) {
    case "batch_before_position":
      return `${where}: fetched offset ${r.reported} lies below offset ${r.known}, where reading had reached`;
    case "end_below_position":
      return `${where}: the log ends at offset ${r.reported}, below offset ${r.known}, where reading had reached`;
    case "start_above_pending":
      return `${where}: the log now starts at offset ${r.reported}, above offset ${r.known}, still in progress`;
    case "group_offset_reset":
      return `${where}: the group's committed offset is ${r.reported}, below offset ${r.known}, committed before`;
  }
}
