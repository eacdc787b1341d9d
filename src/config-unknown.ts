// Variables that look like the relay's settings but are none: a misspelt name would otherwise be
// ignored and its setting silently take the default (a DOJO_TIMEOUT_MS typo, a LEDGER_URL typo that
// opens a fresh local ledger). src/config.ts decides whether they stop the relay.

/** Prefixes of the relay's own settings: a variable with one of them that no schema knows is reported. */
export const OWNED_PREFIXES = ["RELAY_", "KAFKA_", "SQS_", "DOJO_", "LEDGER_"] as const;

/**
 * Variables with an owned prefix that belong to the tools around the relay, not to it: scripts/brokers.sh
 * (KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_HEAP, SQS_PORT, SQS_HEAP), docker-compose.yml's host ports
 * (*_HOST_PORT) and the test suites (RELAY_TEST_LOGS). They may be exported in the shell a relay starts
 * from and mean nothing to it.
 */
export const FOREIGN_VARIABLES: ReadonlySet<string> = new Set([
  "KAFKA_PORT",
  "KAFKA_CONTROLLER_PORT",
  "KAFKA_HEAP",
  "SQS_PORT",
  "SQS_HEAP",
  "KAFKA_HOST_PORT",
  "SQS_HOST_PORT",
  "DOJO_SIM_HOST_PORT",
  "RELAY_HOST_PORT",
  "RELAY_SQS_HOST_PORT",
  "RELAY_TEST_LOGS",
]);

/**
 * The variables Kubernetes (and Docker's links) put into every container for each service in the
 * namespace: a service named `kafka` gives KAFKA_SERVICE_HOST, KAFKA_PORT=tcp://…,
 * KAFKA_PORT_9092_TCP_ADDR and so on. They are not settings, and a relay must not refuse to start
 * because such a service exists.
 */
export function isServiceLink(name: string, value: string | undefined): boolean {
  return (
    /^[A-Z0-9_]+_SERVICE_HOST$/.test(name) ||
    /^[A-Z0-9_]+_SERVICE_PORT(?:_[A-Z0-9_]+)?$/.test(name) ||
    /^[A-Z0-9_]+_PORT_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?$/.test(name) ||
    (/^[A-Z0-9_]+_PORT$/.test(name) && /^(?:tcp|udp|sctp):\/\//.test(value ?? ""))
  );
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = best;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The name without its last `_WORD` (DOJO_TIMEOUT_MS: DOJO_TIMEOUT). */
const stem = (name: string) => name.replace(/_[A-Z0-9]+$/, "");

/**
 * The known names closest to `name`: within a few edits (a quarter of its length, at least 2); else
 * one it is the start of (RELAY_CONFIG: RELAY_CONFIG_FILE); else one that differs in the last word only
 * (DOJO_TIMEOUT_SECONDS: DOJO_TIMEOUT_MS). Case is ignored. The closest, at most three.
 */
export function suggestNames(name: string, known: Iterable<string>): string[] {
  const upper = name.toUpperCase();
  const limit = Math.max(2, Math.floor(upper.length / 4));
  const scored: Array<{ name: string; score: number }> = [];
  for (const candidate of known) {
    const distance = editDistance(upper, candidate);
    if (distance <= limit) scored.push({ name: candidate, score: distance });
    else if (candidate.startsWith(`${upper}_`)) scored.push({ name: candidate, score: limit + 1 });
    // The same stem, more than a bare prefix (DOJO_TIMEOUT, not DOJO): another unit or last word.
    else if (stem(upper).includes("_") && stem(upper) === stem(candidate)) {
      scored.push({ name: candidate, score: limit + 2 });
    }
  }
  scored.sort((x, y) => x.score - y.score);
  const best = scored[0]?.score;
  return scored
    .filter((s) => s.score === best)
    .slice(0, 3)
    .map((s) => s.name);
}

/** `X is not a refund-relay setting (did you mean Y?)`. */
export function describeUnknown(name: string, known: Iterable<string>): string {
  const suggestions = suggestNames(name, known);
  const hint =
    suggestions.length > 0
      ? ` (did you mean ${suggestions.join(" or ")}?)`
      : name === name.toUpperCase()
        ? ""
        : " (variable names are case-sensitive)";
  return `${name} is not a refund-relay setting${hint}`;
}

/**
 * Variables of the environment that carry one of the relay's prefixes (in any case) but that no schema
 * knows, leaving out the tools' variables and service links. In the order of `env`.
 */
export function unknownInEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  known: ReadonlySet<string>,
): string[] {
  return Object.keys(env).filter((name) => {
    if (known.has(name) || FOREIGN_VARIABLES.has(name) || isServiceLink(name, env[name])) return false;
    const upper = name.toUpperCase();
    return OWNED_PREFIXES.some((prefix) => upper.startsWith(prefix));
  });
}
