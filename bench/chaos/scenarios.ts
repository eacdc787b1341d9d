// The chaos matrix: which transport, ledger, number of relays and fault each scenario runs. The full
// matrix runs every fault class over both transports and both ledgers where the fault applies; the
// small form (for CI) runs one scenario per fault class.

export type FaultKind =
  /** Dojo's own faults only (5% of refund calls), which every scenario has. */
  | "none"
  /** Two relays, one of them SIGKILLed every 8 s (in turn) and started again 1 s later. */
  | "sigkill"
  /** Three relays; one SIGKILLed and later started again, another stopped gracefully and restarted. */
  | "instances"
  /** The Kafka broker stopped for 20 s and started again on its data. */
  | "broker-stop"
  /** The PostgreSQL server stopped at once (immediate mode) and started again 5 s later. */
  | "postgres-restart"
  /** Dojo unreachable for 15 s: a proxy that accepts connections and answers nothing. */
  | "dojo-blackhole"
  /** The relay's Dojo key refused (401) for 10 s. */
  | "key-revoked"
  /** The ledger made read-only for 10 s: SQLite files immutable, or PostgreSQL read-only transactions. */
  | "ledger-read-only";

export interface Scenario {
  readonly name: string;
  readonly transport: "kafka" | "sqs";
  readonly ledger: "sqlite" | "postgres";
  readonly instances: number;
  readonly fault: FaultKind;
}

export const FAULT_TEXT: Readonly<Record<FaultKind, string>> = {
  none: "Dojo faults only",
  sigkill: "2 relays, one SIGKILLed every 8 s, restarted",
  instances: "3 relays: one SIGKILLed, one stopped, both back",
  "broker-stop": "Kafka broker stopped 20 s, restarted on its data",
  "postgres-restart": "PostgreSQL stopped (immediate) 5 s, restarted",
  "dojo-blackhole": "Dojo blackholed 15 s",
  "key-revoked": "Dojo key revoked 10 s",
  "ledger-read-only": "ledger read-only 10 s",
};

export const scenario = (
  transport: Scenario["transport"],
  ledger: Scenario["ledger"],
  fault: FaultKind,
  instances = fault === "instances" ? 3 : fault === "sigkill" ? 2 : 1,
): Scenario => ({ name: `${transport}-${ledger}-${fault}`, transport, ledger, instances, fault });

/** Every fault over both transports and both ledgers where it applies. */
export const FULL_MATRIX: readonly Scenario[] = [
  scenario("kafka", "sqlite", "none"),
  scenario("sqs", "postgres", "none"),
  scenario("kafka", "sqlite", "sigkill"),
  scenario("kafka", "postgres", "sigkill"),
  scenario("sqs", "sqlite", "sigkill"),
  scenario("sqs", "postgres", "sigkill"),
  scenario("kafka", "sqlite", "instances"),
  scenario("kafka", "postgres", "instances"),
  scenario("sqs", "postgres", "instances"),
  scenario("kafka", "sqlite", "broker-stop"),
  scenario("kafka", "postgres", "broker-stop"),
  scenario("kafka", "postgres", "postgres-restart"),
  scenario("sqs", "postgres", "postgres-restart"),
  scenario("kafka", "sqlite", "dojo-blackhole"),
  scenario("sqs", "postgres", "dojo-blackhole"),
  scenario("kafka", "postgres", "key-revoked"),
  scenario("sqs", "sqlite", "key-revoked"),
  scenario("kafka", "sqlite", "ledger-read-only"),
  scenario("sqs", "postgres", "ledger-read-only"),
];

/** One scenario per fault class, for CI. */
export const SMALL_MATRIX: readonly Scenario[] = [
  scenario("kafka", "sqlite", "sigkill"),
  scenario("sqs", "postgres", "instances"),
  scenario("kafka", "postgres", "broker-stop"),
  scenario("sqs", "postgres", "postgres-restart"),
  scenario("kafka", "sqlite", "dojo-blackhole"),
  scenario("sqs", "sqlite", "key-revoked"),
  scenario("kafka", "postgres", "ledger-read-only"),
];

/** The scenario a name like `kafka-sqlite-sigkill` describes (any transport, ledger and fault). */
export function scenarioNamed(name: string): Scenario | undefined {
  const m = /^(kafka|sqs)-(sqlite|postgres)-(.+)$/.exec(name);
  if (m === null || !((m[3] as string) in FAULT_TEXT)) return undefined;
  const fault = m[3] as FaultKind;
  if (fault === "broker-stop" && m[1] !== "kafka") return undefined;
  if (fault === "postgres-restart" && m[2] !== "postgres") return undefined;
  return scenario(m[1] as Scenario["transport"], m[2] as Scenario["ledger"], fault);
}
