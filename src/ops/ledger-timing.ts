// The ledger with every operation timed, for the ledger latency histogram. A wrapper around whatever
// ledger was opened (SQLite or PostgreSQL), so neither implementation knows about metrics.
import type { Ledger } from "../ledger/index.ts";

const TIMED = [
  "begin",
  "markSubmitting",
  "markUnknown",
  "settle",
  "markPublished",
  "markParked",
  "get",
  "listParked",
  "settleByHand",
  "audit",
  "claimIntent",
  "renewIntents",
  "releaseIntent",
] as const satisfies readonly (keyof Ledger)[];

type Observe = (operation: string, seconds: number, ok: boolean) => void;

function timed<A extends unknown[], R>(
  name: string,
  call: (...args: A) => Promise<R>,
  observe: Observe,
): (...args: A) => Promise<R> {
  return (...args: A) => {
    const started = performance.now();
    const done = (ok: boolean) => observe(name, (performance.now() - started) / 1000, ok);
    let pending: Promise<R>;
    try {
      pending = call(...args);
    } catch (error) {
      done(false);
      throw error;
    }
    return pending.then(
      (result) => {
        done(true);
        return result;
      },
      (error: unknown) => {
        done(false);
        throw error;
      },
    );
  };
}

export function timeLedger(ledger: Ledger, observe: Observe): Ledger {
  const out: Partial<Record<keyof Ledger, unknown>> = { close: () => ledger.close() };
  for (const name of TIMED) {
    const call = ledger[name] as (...args: unknown[]) => Promise<unknown>;
    out[name] = timed(name, (...args: unknown[]) => call.apply(ledger, args), observe);
  }
  return out as Ledger;
}
