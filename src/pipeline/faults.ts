// Faults of the relay's own world, as the pipeline meets them: the ledger that cannot read or write,
// a sink that cannot publish, Dojo rejecting our key. Each is thrown as a DependencyFault, which the
// pipeline never turns into an answer or a dead letter: it reports the fault to the gate (intake
// pauses), waits, and tries the same step again until the fault clears or the relay stops.
import type { EventRef, Ledger } from "../ledger/index.ts";
import { LedgerError } from "../ledger/index.ts";
import type { FaultGate, FaultKind } from "./fault-gate.ts";

export class DependencyFault extends Error {
  override readonly name = "DependencyFault";
  readonly kind: FaultKind;
  constructor(kind: FaultKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The ledger as the pipeline uses it: a call that throws anything but a LedgerError (a refusal or a
 * caller's bug) is an outage and becomes a DependencyFault; a call that works clears the ledger fault.
 */
export function guardLedger(ledger: Ledger, gate: FaultGate): Ledger {
  // Only a write that worked clears the fault: with reads working and writes failing (a full disk),
  // clearing on reads would resume and pause intake over and over.
  const onFault = (error: unknown): never => {
    if (error instanceof LedgerError) throw error;
    throw new DependencyFault("ledger", `the ledger failed: ${describe(error)}`, { cause: error });
  };
  const cleared = <R>(result: R): R => {
    if (gate.paused) gate.clear("ledger");
    return result;
  };
  // Plain promise chains, not async wrappers: these run several times per event on the hot path.
  const guard =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>, write: boolean) =>
    (...args: A): Promise<R> => {
      let pending: Promise<R>;
      try {
        pending = call(...args);
      } catch (error) {
        return Promise.reject(error).catch(onFault);
      }
      return write ? pending.then(cleared, onFault) : pending.catch(onFault);
    };
  return {
    begin: guard((...a: Parameters<Ledger["begin"]>) => ledger.begin(...a), true),
    markSubmitting: guard((...a: Parameters<Ledger["markSubmitting"]>) => ledger.markSubmitting(...a), true),
    markUnknown: guard((...a: Parameters<Ledger["markUnknown"]>) => ledger.markUnknown(...a), true),
    settle: guard((...a: Parameters<Ledger["settle"]>) => ledger.settle(...a), true),
    markPublished: guard((...a: Parameters<Ledger["markPublished"]>) => ledger.markPublished(...a), true),
    markParked: guard((...a: Parameters<Ledger["markParked"]>) => ledger.markParked(...a), true),
    get: guard((ref: EventRef) => ledger.get(ref), false),
    listParked: guard((limit: number) => ledger.listParked(limit), false),
    settleByHand: guard((...a: Parameters<Ledger["settleByHand"]>) => ledger.settleByHand(...a), true),
    audit: guard((ref: EventRef) => ledger.audit(ref), false),
    claimIntent: guard((...a: Parameters<Ledger["claimIntent"]>) => ledger.claimIntent(...a), true),
    renewIntents: guard((...a: Parameters<Ledger["renewIntents"]>) => ledger.renewIntents(...a), true),
    releaseIntent: guard((...a: Parameters<Ledger["releaseIntent"]>) => ledger.releaseIntent(...a), true),
    close: () => ledger.close(),
  };
}
