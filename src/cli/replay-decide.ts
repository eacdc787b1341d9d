// What `refund-relay replay` does with one dead letter: the original message is validated with the
// relay's own contract (schemas/), then looked up in the ledger. An event that still fails validation
// stays where it is; one whose outcome is settled stays too (the relay would only re-publish it),
// unless forced; everything else goes back to the input, where the relay processes it (or resumes it
// with the same idempotency key). Transport-free: the Kafka and SQS readers bring the message.
import { decodeReturnApproved, type InboundMessage } from "../../schemas/index.ts";
import { type Ledger, type LedgerEntry, SETTLED_STATES } from "../ledger/index.ts";
import { requestHash } from "../pipeline/request-hash.ts";
import { describeStored } from "./reconcile-outcome.ts";

/** The dead-letter codes the relay writes (rr-error-code), for --code. */
export const DEAD_LETTER_CODES = [
  "unparseable",
  "invalid_envelope",
  "retry_budget_exhausted",
  "needs_reconciliation",
  "idempotency_conflict",
  "internal_error",
  "unknown_merchant",
] as const;

export interface ReplayCheck {
  readonly ledger: Pick<Ledger, "get">;
  /** MAX_MESSAGE_BYTES, as the relay decodes. */
  readonly maxBytes: number;
  readonly force: boolean;
}

export type Decision =
  | {
      readonly action: "replay";
      readonly eventId: string;
      readonly source: string;
      /** What the relay will do with it. */
      readonly reason: string;
    }
  | {
      readonly action: "skip";
      readonly eventId?: string | undefined;
      readonly source?: string | undefined;
      readonly reason: string;
    };

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

function openState(entry: LedgerEntry): string {
  const parked = entry.parked === null ? "" : `, parked ${entry.parked.code}`;
  return `state ${entry.state}, attempts ${entry.attempts}${parked}`;
}

/** Decides whether the original message of a dead letter goes back to the input, and says why. */
export async function decide(message: InboundMessage, check: ReplayCheck): Promise<Decision> {
  const decoded = decodeReturnApproved(message, { maxBytes: check.maxBytes });
  if (!decoded.ok) {
    const what =
      decoded.stage === "unparseable" ? "still unparseable" : `still fails validation (${decoded.stage})`;
    return {
      action: "skip",
      eventId: decoded.eventId,
      source: decoded.source,
      reason: `${what}: ${oneLine(decoded.message)}`,
    };
  }
  const { id: eventId, source } = decoded.event;
  const entry = await check.ledger.get({ source, eventId });
  const forced = check.force ? "forced: " : "";
  const skip = (reason: string): Decision => ({ action: "skip", eventId, source, reason });
  const replay = (reason: string): Decision => ({ action: "replay", eventId, source, reason });
  if (entry === undefined) return replay("not in the ledger: the relay processes it as a new event");
  if (entry.requestHash !== requestHash(decoded.event.data)) {
    const why =
      "the ledger recorded other content under this event id (idempotency conflict): the relay refuses it without calling Dojo";
    return check.force ? replay(`${forced}${why}`) : skip(`${why}; --force to send it anyway`);
  }
  if (SETTLED_STATES.has(entry.state)) {
    const why = `already settled (${describeStored(entry)}): the relay would only re-publish the stored outcome, without calling Dojo`;
    return check.force ? replay(`${forced}${why}`) : skip(`${why}; --force to send it anyway`);
  }
  return replay(
    entry.attempts === 0
      ? `open in the ledger (${openState(entry)}), never sent to Dojo: the relay processes it`
      : `open in the ledger (${openState(entry)}): the relay resumes it with the same idempotency key`,
  );
}

/** A dead letter as read from the dead-letter topic or queue. */
export interface DeadLetter {
  /** Where it is (partition and offset, or message id), for the log line. */
  readonly at: string;
  /** The dead-letter code the relay gave it, when it carries one. */
  readonly code: string | undefined;
  /** The event id the relay noted on it, when it had one. */
  readonly eventId: string | undefined;
  /** The original message as the relay received it, or why it cannot be had. */
  readonly original: InboundMessage | { readonly broken: string };
}

/**
 * What the command does with one dead letter: "replayed" once the original was sent to the input and
 * acknowledged (`send` resolved); "kept" when it stays on the dead-letter destination. Throws to end
 * the run (a send failed).
 */
export type Handler = (letter: DeadLetter, send: () => Promise<void>) => Promise<"replayed" | "kept">;

/** A dead-letter topic or queue, read in order, with what has been replayed removed or committed. */
export interface DeadLetterReader {
  /**
   * Hands each dead letter to `handle` until none is left or `stopped()` says so. A replayed one is
   * deleted (SQS) or committed (Kafka) only after `handle` returned "replayed"; a kept one stays.
   */
  run(handle: Handler, stopped: () => boolean): Promise<void>;
  close(): Promise<void>;
}
