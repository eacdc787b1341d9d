export { Backpressure } from "./backpressure.ts";
export type { IntakeLane, SourceDelivery } from "./delivery.ts";
export { InFlight } from "./drain.ts";
export { IntakeRunner, type IntakeRunnerOptions, type MessageProcessor } from "./runner.ts";
export type { Intake, IntakeSource, Transport } from "./source.ts";
export type { IntakeStats } from "./stats.ts";
